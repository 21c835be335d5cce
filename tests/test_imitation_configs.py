"""The imitation half's configs (judging, generate, evaluate roots) refuse typos before any work.

A wrong key on the command line (with or without ``+``), inside a YAML file, or a wrong type
stops at compose or at ``check_values`` (every entry point's first step), with the valid keys and
the closest match; the judge is built before any candidate reply is generated.
"""

from __future__ import annotations

import inspect
import shutil

import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import ConfigCompositionException

from imitate.config_hints import config_error_hints
from imitate.config_schema import check_values
from imitate.config_targets import signature_parameters
from imitate.judge import commands
from imitate.judge.config import VerdictPrompt
from imitate.judge.pairwise import PairwiseJudge
from imitate.style import authoritative
from tests.conftest import REPO, compose_config

# (root, overrides with a `+` typo, the hint's end): typos compose with `+`, check_values refuses.
FORCED_TYPOS = [
    ("judging", ["+judge.temprature=0.7"], "Did you mean 'judge.temperature'?"),
    ("judging", ["+prompts.prompts.datset=koala"], "Did you mean 'prompts.prompts.dataset'?"),
    ("judging", ["+prompts.reference.matc=text"], "Did you mean 'prompts.reference.match'?"),
    (
        "judging",
        ["style=llm_judge", "+style.authoritative.max_new_token=9"],
        "Did you mean 'style.authoritative.max_new_tokens'?",
    ),
    ("judging", ["+candidate.outputz=x"], "Did you mean 'candidate.outputs'?"),
    ("judging", ["+filters.english=true"], "Did you mean 'filters.english_only'?"),
    ("judging", ["+calibration.limits=3"], "Did you mean 'calibration.limit'?"),
    ("judging", ["+log.run=abc"], "Did you mean 'log.run_id'?"),
    ("judging", ["+candidat.outputs=x"], "Did you mean 'candidate'?"),
    ("judging", ["llm=gpt-4o-mini", "+llm.temprature=1"], "Valid keys there: api_key_env,"),
    (
        "judging",
        ["+llm@candidate.llm=local_server", "candidate.llm.model=m", "+candidate.llm.max_retry=1"],
        "Did you mean 'candidate.llm.max_retries'?",
    ),
    ("generate", ["llm=gpt-4o-mini", "+generate.n_exampels=5"], "Did you mean 'generate.n_examples'?"),
    ("generate", ["llm=gpt-4o-mini", "+generat.n_examples=5"], "Did you mean 'generate'?"),
    ("evaluate", ["llm=local_server", "llm.model=m", "+llm.time_out=1"], "Did you mean 'llm.timeout_s'?"),
]  # fmt: skip
BAD_VALUES = [
    ("judging", ["judge.max_new_tokens=many"], "judge.max_new_tokens takes int (VerdictPrompt)"),
    ("judging", ["filters.english_only=maybe"], "filters.english_only takes bool"),
    ("judging", ["llm=gpt-4o-mini", "llm.max_concurrency=abc"], "llm.max_concurrency takes int"),
    ("generate", ["llm=gpt-4o-mini", "generate.seed=abc"], "generate.seed takes int"),
    ("judging", ["prompts.reference.match=idd"], "match='idd'; valid: id, text"),
    ("judging", ["candidate.format=csv"], "candidate.format='csv'; valid: generations, outputs"),
    ("judging", ["llm=local_server"], "llm.model is required (???)"),
    ("generate", [], "generate: choose a llm option: llm=<name>"),
]


def _refusal(root: str, overrides: list[str]) -> str:
    """The message (with hints) that stops ``overrides``, at compose or at check_values."""
    try:
        cfg = compose_config(overrides, config_name=root)
    except ConfigCompositionException as error:
        return str(error) + "\n" + "\n".join(config_error_hints(error))
    with pytest.raises(ValueError) as error:
        check_values(cfg, root)
    return str(error.value)


@pytest.mark.parametrize(("root", "overrides", "hint"), FORCED_TYPOS)
def test_a_forced_typo_is_refused_with_the_closest_key(root, overrides, hint) -> None:
    assert hint in _refusal(root, overrides)


def test_a_typo_without_plus_fails_at_compose_with_the_valid_keys() -> None:
    with pytest.raises(ConfigCompositionException) as error:
        compose_config(["judge.temprature=0.7"], config_name="judging")
    [hint] = config_error_hints(error.value)
    assert hint == (
        "Unknown key 'judge.temprature': 'temprature' is not in judge (VerdictPrompt). Valid keys "
        "there: labels, marker, max_new_tokens, system, temperature, template. "
        "Did you mean 'judge.temperature'?"
    )


@pytest.mark.parametrize(("root", "overrides", "message"), BAD_VALUES)
def test_a_bad_value_is_refused_naming_key_and_type(root, overrides, message) -> None:
    assert message in _refusal(root, overrides)


@pytest.mark.parametrize(
    ("folder", "old", "new", "hint"),
    [
        ("prompts/koala.yaml", "  dataset: koala", "  datset: koala", "prompts.reference.dataset"),
        ("prompts/koala.yaml", "  match: text", "  matc: text", "prompts.reference.match"),
        ("style/llm_judge.yaml", "  max_new_tokens: 128", "  max_new_token: 128",
         "style.authoritative.max_new_tokens"),
        ("judge/pairwise.yaml", "temperature: 0.0", "temprature: 0.0", "judge.temperature"),
    ],
)  # fmt: skip
def test_a_typo_inside_a_yaml_file_is_refused(tmp_path, folder, old, new, hint) -> None:
    conf = shutil.copytree(REPO / "conf", tmp_path / "conf")
    path = conf / folder
    assert path.read_text().count(old) == 1
    path.write_text(path.read_text().replace(old, new))
    # At compose, or (inside an optional node such as prompts.reference) at check_values
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        try:
            cfg = compose("judging", ["style=llm_judge", "prompts=koala"])
        except ConfigCompositionException as error:
            refusal = "\n".join(config_error_hints(error))
        else:
            with pytest.raises(ValueError) as refused:
                check_values(cfg, "judging")
            refusal = str(refused.value)
    assert f"Did you mean '{hint}'?" in refusal


def test_a_key_pasted_into_an_env_name_is_refused_without_showing_it() -> None:
    cfg = compose_config(["llm=gpt-4o-mini", "llm.api_key_env=sk-pasted-0123456789"], "judging")
    with pytest.raises(ValueError, match="not an environment variable name") as error:
        check_values(cfg, "judging")
    assert "sk-pasted" not in str(error.value)


def test_the_judge_schema_is_the_judges_signature() -> None:
    fields = set(VerdictPrompt.__dataclass_fields__)
    assert fields == set(signature_parameters(PairwiseJudge, call_time=("llm",)))
    # style.authoritative is read by the same keys (the tone judge ignores none of them)
    source = "".join(
        inspect.getsource(f) for f in (authoritative._parser, authoritative.authoritative_request)
    ) + inspect.getsource(commands.judge_authoritative)
    assert {f for f in fields if f'"{f}"' in source} == fields


def test_the_judge_is_built_before_any_candidate_reply(monkeypatch) -> None:
    cfg = compose_config(
        ["command=compare", "llm=gpt-4o-mini", "judge.labels.A=winner", "candidate.outputs=x"],
        "judging",
    )
    check_values(cfg, "judging")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used-0000")
    read = []
    monkeypatch.setattr(commands, "candidate_outputs", lambda *a: read.append(a))
    monkeypatch.setattr(commands, "load_items", lambda *a: read.append(a))
    with pytest.raises(ValueError, match="each label must map to first, second or tie"):
        commands.compare(cfg)
    assert read == []  # neither the prompts nor the candidate's replies were touched
