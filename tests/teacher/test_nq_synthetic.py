"""NQ-synthetic with a scripted teacher: seeds, requests, stopping, counts, resuming, and the data it feeds."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hydra.utils import instantiate

from imitate.data.text_normalise import normalize_answer
from imitate.hashing import stable_hash
from imitate.llm.base import BudgetExceeded
from imitate.teacher import question_filter as qf
from tests.conftest import compose_config
from tests.support.teacher_jobs import FIXTURES, make_job, read_as_data_nq_synthetic
from tests.teacher.scripted import ScriptedLLM


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_seed_rows_are_a_seeded_choice_and_recorded(tmp_path: Path) -> None:
    manifest = make_job(tmp_path / "out.jsonl", seed=7).run(ScriptedLLM())
    rows = lines(FIXTURES / "nq_seed.jsonl")
    expected = sorted(random.Random(7).sample(range(len(rows)), 10))
    assert manifest["seed"]["indices"] == expected
    assert [p["question"] for p in manifest["seed"]["pairs"]] == [
        rows[i]["question"] for i in expected
    ]
    explicit = make_job(tmp_path / "b.jsonl", seed_indices=[0, 1, 2, 3, 4], n_examples=5)
    assert [p["answer"] for p in explicit.seeds] == [rows[i]["answer"][0] for i in range(5)]


def test_each_request_is_fixed_by_its_index_and_shows_five_seed_pairs(tmp_path: Path) -> None:
    job, again = make_job(tmp_path / "a.jsonl"), make_job(tmp_path / "b.jsonl")
    assert job.request(3) == again.request(3) and job.request(3) != job.request(4)
    text = job.request(3).messages[-1]["content"]
    shown = [p for p in job.seeds if f"Q: {p['question']} A: {p['answer']}" in text]
    assert len(shown) == 5 and "Write 10 new" in text


def test_stops_at_n_examples_and_the_manifest_adds_up(tmp_path: Path) -> None:
    llm = ScriptedLLM()
    manifest = make_job(tmp_path / "out.jsonl").run(llm)
    records = lines(tmp_path / "out.jsonl")
    counts = manifest["counts"]
    assert len(records) == counts["accepted"] == manifest["written"] == 30
    assert manifest["stopped"] == "n_examples"
    assert counts["candidates"] == counts["accepted"] + sum(counts["rejected"].values())
    assert counts["requests"] == len(llm.calls) and set(llm.batches) == {3}
    assert (
        counts["rejected"][qf.DUPLICATE_OF_EVAL] > 0
    )  # the scripted teacher repeats eval questions
    assert qf.OVER_N_EXAMPLES in counts["rejected"]
    keys = [normalize_answer(r["question"]) for r in records]
    eval_keys = {normalize_answer(r["question"]) for r in lines(FIXTURES / "nq_eval.jsonl")}
    assert len(set(keys)) == len(keys) and not set(keys) & eval_keys
    assert [r["request"] for r in records] == sorted(r["request"] for r in records)
    assert manifest["teacher"] == {"name": "scripted", "fingerprint": "scripted:scripted"}
    assert manifest["usage"]["llm/requests"] == len(llm.calls)


def test_malformed_replies_are_counted_by_reason(tmp_path: Path) -> None:
    replies = iter(
        ["", "I cannot do that.", "Q: dangling question", "Q: who wrote dune A: Frank Herbert"] * 3
    )
    manifest = make_job(tmp_path / "out.jsonl", n_examples=1, batch_size=2).run(
        ScriptedLLM(reply=lambda request: next(replies))
    )
    counts = manifest["counts"]
    assert counts["requests"] == 4 and counts["replies_without_pairs"] == 2
    assert counts["rejected"] == {"question_without_answer": 1}
    assert counts["accepted"] == 1 and counts["unparsed_lines"] == 1


class _FailsOnCall(ScriptedLLM):
    def __init__(self, fail_on: int, error: Exception):
        super().__init__()
        self.fail_on, self.error = fail_on, error

    def generate(self, requests):
        if len(self.batches) + 1 == self.fail_on:
            self.batches.append(len(requests))
            raise self.error
        return super().generate(requests)


def test_a_killed_run_is_cut_back_to_its_last_commit_and_ends_as_an_uninterrupted_one(
    tmp_path: Path,
) -> None:
    reference = make_job(tmp_path / "reference.jsonl", batch_size=2).run(ScriptedLLM())
    out = tmp_path / "out.jsonl"
    with pytest.raises(ConnectionError):
        make_job(out, batch_size=2).run(_FailsOnCall(3, ConnectionError("endpoint down")))
    committed = json.loads((tmp_path / "out.manifest.json").read_text())
    assert committed["counts"]["requests"] == 4 and committed["stopped"] == "running"
    with out.open("a") as torn:  # what a kill in the middle of the next append leaves behind
        torn.write('{"id": "nq_synthetic-000004-0", "question": "who pai')
    llm, job = ScriptedLLM(), make_job(out, batch_size=2)
    final = job.run(llm)
    assert out.read_text() == (tmp_path / "reference.jsonl").read_text()
    assert llm.calls == [job.request(i) for i in range(4, final["counts"]["requests"])]
    assert final["counts"] == reference["counts"]
    assert final["runs"] == 2


def test_budget_stop_keeps_what_was_finished_and_a_rerun_continues(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    stopped = make_job(out).run(_FailsOnCall(2, BudgetExceeded("max_cost_usd=0.01 reached")))
    assert stopped["stopped"] == "budget" and stopped["counts"]["requests"] == 3
    assert len(lines(out)) == stopped["counts"]["accepted"]
    assert make_job(out).run(ScriptedLLM())["stopped"] == "n_examples"
    assert len(lines(out)) == 30


def test_a_larger_n_examples_continues_the_same_file(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    make_job(out, n_examples=10).run(ScriptedLLM())
    first = lines(out)
    manifest = make_job(out, n_examples=25).run(ScriptedLLM())
    assert lines(out)[:10] == first and len(lines(out)) == 25 == manifest["counts"]["accepted"]


def test_other_settings_refuse_to_continue_an_output(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    make_job(out, n_examples=5).run(ScriptedLLM())
    with pytest.raises(ValueError, match="pairs_per_request: was 10, now 4"):
        make_job(out, pairs_per_request=4).run(ScriptedLLM())
    with pytest.raises(ValueError, match="teacher: was 'scripted:scripted'"):
        make_job(out).run(ScriptedLLM(name="other"))


def test_bad_seed_file_and_template_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="generate.seed_file"):
        make_job(tmp_path / "o.jsonl", seed_file=str(tmp_path / "missing.jsonl"))
    with pytest.raises(ValueError, match=r"generate.prompt.template.*\{examples\}, \{n_new\}"):
        make_job(tmp_path / "o.jsonl", prompt={"template": "Pairs: {pairs}"})


def test_the_output_is_what_data_nq_synthetic_reads(tmp_path: Path) -> None:
    out = tmp_path / "nq.jsonl"
    make_job(out, n_examples=12).run(ScriptedLLM())
    conversations = read_as_data_nq_synthetic(out)
    records = lines(out)
    assert len(conversations) == 12
    assert [c["turns"] for c in conversations] == [
        [{"role": "user", "content": r["question"]}, {"role": "assistant", "content": r["answer"]}]
        for r in records
    ]
    assert [c["id"] for c in conversations] == [r["id"] for r in records]


@pytest.mark.shared_data
def test_the_first_10000_requests_of_the_default_config_all_differ(shared_data, tmp_path) -> None:
    # One draw per request repeated 134 of the first 3,000 prompts (request 284 = request 131):
    # those were answered from the cache and their pairs rejected as duplicates.
    cfg = compose_config(["llm=local_server", "generate.max_requests=10000"], "generate")
    job = instantiate(cfg.generate, output=str(tmp_path / "a.jsonl"))
    assert (job.seed, job.n_seed, job.shown) == (1234, 10, 5)  # the defaults, not a test's
    bodies = [stable_hash(job.request(i).as_dict()) for i in range(10_000)]
    assert len(set(bodies)) == 10_000
    fresh = instantiate(cfg.generate, output=str(tmp_path / "b.jsonl"))
    # request i depends only on (seed, i, settings): asked first, out of order, it is the same
    assert fresh.request(9_999) == job.request(9_999) and fresh.request(284) == job.request(284)
    assert [stable_hash(fresh.request(i).as_dict()) for i in range(10_000)] == bodies
    other_seed = instantiate(cfg.generate, output=str(tmp_path / "c.jsonl"), seed=1235)
    assert other_seed.request(0) != job.request(0)


def test_every_ordering_is_used_once_before_any_repeats_and_no_more_are_allowed(tmp_path) -> None:
    job = make_job(
        tmp_path / "a.jsonl", seed_indices=[0, 1, 2], shown_per_request=3, max_requests=6
    )
    texts = [job.request_text(i) for i in range(6)]
    assert len(set(texts)) == 6  # the 3! orderings of the three seed rows, each once
    with pytest.raises(
        ValueError, match=r"max_requests=7: 3 seed pairs shown 3 at a time give only 6"
    ):
        make_job(tmp_path / "b.jsonl", seed_indices=[0, 1, 2], shown_per_request=3, max_requests=7)


def test_an_output_begun_with_the_old_request_derivation_is_not_continued(tmp_path) -> None:
    job = make_job(tmp_path / "out.jsonl", n_examples=3)
    job.run(ScriptedLLM())
    manifest = tmp_path / "out.manifest.json"
    old = json.loads(manifest.read_text())
    del old["settings"]["request_derivation"]  # what an output made before derivation 2 holds
    manifest.write_text(json.dumps(old))
    with pytest.raises(ValueError, match=r"request_derivation: was None, now 2"):
        make_job(tmp_path / "out.jsonl", n_examples=6).run(ScriptedLLM())
