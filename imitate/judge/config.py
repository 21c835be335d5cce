"""The typed config of ``python -m imitate.judge`` (conf/judging.yaml and its groups).

Each dataclass names exactly the keys its reader takes: ``VerdictPrompt`` is ``PairwiseJudge``'s
keyword arguments (``judge``; tests/test_configs.py binds them to the signature) and what
``judge_authoritative`` reads (``style.authoritative``); ``PromptSet`` what ``build_prompt_set``
reads (``prompts``); the rest what imitate/judge/commands.py reads. ``llm`` and ``candidate.llm``
are client configs checked against their ``_target_``. Registered as ``judging_schema``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from omegaconf import MISSING

from imitate.config_schema import SchemaSet
from imitate.config_targets import Target
from imitate.style.prompt_sets import MATCH_KEYS, OUTPUT_READERS, READERS, RUN_HELDOUT

# Optional[...] below, not `X | None`: OmegaConf 2.3 reads only typing's spelling in dataclasses.
# ruff: noqa: UP045


def _choice(where: str, value: str | None, valid) -> None:
    if value is not None and value not in valid:
        raise ValueError(f"{where}={value!r}; valid: {', '.join(sorted(valid))}")


@dataclass
class VerdictPrompt:
    """A judge prompt and its verdict format: ``judge`` and ``style.authoritative``."""

    template: str = MISSING
    labels: dict[str, str] = MISSING  # marker label -> outcome
    system: Optional[str] = None
    marker: Optional[str] = None  # one capture group; None: the default [[X]] marker
    max_new_tokens: int = MISSING
    temperature: float = MISSING


@dataclass
class StyleConfig:
    """``style``: authoritative tone by an LLM judge (or None), and the opt-in lexicon proxy."""

    authoritative: Optional[VerdictPrompt] = None
    lexicon_tone: bool = False  # the opt-in hedge/booster proxy (style=lexicon)


@dataclass
class PromptSource:
    """``prompts.prompts``: a file of prompts (``dataset``: keep one category)."""

    format: str = MISSING
    path: str = MISSING
    dataset: Optional[str] = None

    def __post_init__(self) -> None:
        if self.format == RUN_HELDOUT:  # a training run hands its split to the style task
            raise ValueError(
                f"format={RUN_HELDOUT} (prompts=heldout) is a training run's own held-out split; "
                "the judge reads prompt files: choose e.g. prompts=vicuna80"
            )
        _choice("format", self.format, READERS)


@dataclass
class ReplySource(PromptSource):
    """``prompts.reference`` / ``second_reference``: teacher replies joined to the prompts."""

    match: str = "id"

    def __post_init__(self) -> None:
        super().__post_init__()
        _choice("match", self.match, MATCH_KEYS)


@dataclass
class PromptSet:
    """``prompts``: a held-out prompt set with the teacher's replies (conf/prompts)."""

    name: str = MISSING
    prompts: PromptSource = MISSING
    reference: Optional[ReplySource] = None  # None: the prompts file carries the reply
    second_reference: Optional[ReplySource] = None


@dataclass
class CandidateConfig:
    """``candidate``: the judged model's outputs (a file) or its client (``llm``)."""

    name: Optional[str] = None
    outputs: Optional[str] = None
    format: str = "outputs"
    match: str = "id"
    llm: Any = None  # a client config: checked against its _target_ (JUDGING below)
    max_new_tokens: int = 512

    def __post_init__(self) -> None:
        _choice("candidate.format", self.format, OUTPUT_READERS)
        _choice("candidate.match", self.match, MATCH_KEYS)


@dataclass
class FiltersConfig:
    """``filters``: the held-out prompt filters (imitate/style/prompt_filter.py)."""

    leakage_train: Optional[str] = None
    bleu_threshold: float = 20.0
    english_only: bool = False
    drop_coding: bool = False


@dataclass
class CalibrationConfig:
    """``calibration``: labelled pairs for ``calibrate``."""

    pairs: str = MISSING
    limit: Optional[int] = None
    seed: int = 0


@dataclass
class LogConfig:
    """``log``: which MLflow run the results go to."""

    run_id: Optional[str] = None
    parent_run_id: Optional[str] = None


JUDGING = SchemaSet(
    nodes={
        "judge": VerdictPrompt,
        "style": StyleConfig,
        "prompts": PromptSet,
        "candidate": CandidateConfig,
        "filters": FiltersConfig,
        "calibration": CalibrationConfig,
        "log": LogConfig,
        "llm": Target(),
        "candidate.llm": Target(),
    },
    root_keys=(
        "judge",
        "style",
        "prompts",
        "tracking",
        "llm",
        "command",
        "candidate",
        "filters",
        "calibration",
        "human_export",
        "log",
        "run_name",
        "cache_dir",
    ),  # fmt: skip
)
