"""MMLU: the original prompt byte for byte, letter scoring, shot dropping, prefix-reuse batching."""

import pytest
import torch

from imitate import metrics
from imitate.eval.mmlu import MMLUTask, format_example, gen_prompt, list_subjects, read_rows
from imitate.llm.hf import HFClient
from imitate.llm.hf_batching import (
    candidate_token_ids,
    next_token_logprobs,
    next_token_logprobs_one_by_one,
)
from tests.eval.conftest import FIXTURES

MMLU = FIXTURES / "mmlu"

EXPECTED_PROMPT = (
    "The following are multiple choice questions (with answers) about  high school mathematics.\n\n"
    "What is 1 + 1?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer: B\n\n"
    "Which, of these, is a prime?\nA. 4\nB. 6\nC. 7\nD. 8\nAnswer: C\n\n"
    "What is 2 + 2?\nA. 4\nB. 5\nC. 6\nD. 7\nAnswer:"
)


def test_prompt_matches_the_original_hendrycks_format_byte_for_byte():
    dev = read_rows(MMLU / "dev" / "high_school_mathematics_dev.csv")
    test = read_rows(MMLU / "test" / "high_school_mathematics_test.csv")
    prompt = gen_prompt(dev, "high_school_mathematics", 2) + format_example(
        test[0], include_answer=False
    )
    assert prompt.encode() == EXPECTED_PROMPT.encode()


class PrefersA(torch.nn.Module):
    """Any model, but the " A" token always wins by a wide margin."""

    def __init__(self, inner, token: int):
        super().__init__()
        self.inner, self.token, self.config = inner, token, inner.config

    @property
    def device(self):
        return self.inner.device

    def forward(self, **kwargs):
        out = self.inner(**kwargs)
        out.logits[..., self.token] += 100.0
        return out


def test_a_model_that_always_says_a_scores_the_fraction_of_a_answers(tiny_model, tokenizer):
    token_a = candidate_token_ids(tokenizer, [" A"])[0]
    llm = HFClient(PrefersA(tiny_model, token_a), tokenizer, scoring_batch_size=2)
    result = MMLUTask(data=str(MMLU), shots=2).run(llm)
    assert {r["predicted"] for r in result.records} == {"A"}
    assert result.metrics[metrics.MMLU_ACC] == pytest.approx(3 / 7)
    assert result.metrics[metrics.MMLU_ACC_SUBJECT + "anatomy"] == pytest.approx(2 / 3)
    assert result.metrics[metrics.MMLU_ACC_SUBJECT + "high_school_mathematics"] == pytest.approx(
        1 / 4
    )
    assert result.metrics[metrics.MMLU_ACC_MACRO] == pytest.approx((2 / 3 + 1 / 4) / 2)
    assert result.metrics[metrics.MMLU_FEWER_SHOTS] == 0.0


def test_prompts_too_long_for_the_context_drop_shots_and_are_counted(tiny_model, tokenizer):
    dev = read_rows(MMLU / "dev" / "anatomy_dev.csv")
    test = read_rows(MMLU / "test" / "anatomy_test.csv")
    one_shot = tokenizer(gen_prompt(dev, "anatomy", 1) + format_example(test[0], False)).input_ids
    task = MMLUTask(data=str(MMLU), shots=2, subjects=["anatomy"])
    result = task.run(HFClient(tiny_model, tokenizer, max_length=len(one_shot)))
    assert [r["shots"] for r in result.records][0] == 1
    assert result.metrics[metrics.MMLU_FEWER_SHOTS] > 0
    assert all(r["shots"] < 2 for r in result.records if r["fewer_shots"])


def test_batched_prefix_reuse_scores_exactly_like_one_at_a_time(tiny_model, tokenizer):
    dev = read_rows(MMLU / "dev" / "anatomy_dev.csv")
    rows = read_rows(MMLU / "test" / "anatomy_test.csv") + read_rows(
        MMLU / "test" / "high_school_mathematics_test.csv"
    )
    prompts = [
        tokenizer(gen_prompt(dev, "anatomy", 2) + format_example(r, False)).input_ids for r in rows
    ]
    letters = candidate_token_ids(tokenizer, [" A", " B", " C", " D"])
    batched = next_token_logprobs(tiny_model, prompts, letters, batch_size=3)
    reference = next_token_logprobs_one_by_one(tiny_model, prompts, letters)
    torch.testing.assert_close(batched, reference, atol=1e-4, rtol=1e-4)


def test_malformed_csv_names_the_file_line_and_valid_shape(tmp_path):
    bad = tmp_path / "x_test.csv"
    bad.write_text("q,a,b,c,d,A\nq,a,b,c,E\n")
    with pytest.raises(ValueError, match=r"x_test.csv:2: expected 6 columns"):
        read_rows(bad)


@pytest.mark.shared_data
def test_shared_mmlu_has_the_standard_57_subjects_and_14042_questions(shared_data):
    subjects = list_subjects(shared_data / "mmlu")
    assert len(subjects) == 57
    assert (
        sum(len(read_rows(shared_data / "mmlu" / "test" / f"{s}_test.csv")) for s in subjects)
        == 14042
    )
    assert all(len(read_rows(shared_data / "mmlu" / "dev" / f"{s}_dev.csv")) == 5 for s in subjects)
