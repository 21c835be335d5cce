"""The commands of ``python -m imitate.judge``: each reads its sub-configs, scores, and logs one run.

Tags, so the report finds the rows: ``compare``/``style`` log into ``log.run_id`` (a sweep cell,
already ``role=imitation``) or a new run tagged ``kind=judge``, with ``judge.command``,
``judge.prompts``, ``judge.candidate`` and ``judge.model`` either way; ``chatgpt2`` logs a
``role=teacher``, ``teacher=ChatGPT #2`` row (child of ``log.parent_run_id`` when set), which is
what Table 2's last row reads.
"""

from __future__ import annotations

import logging
from dataclasses import asdict

from hydra.utils import instantiate
from omegaconf import DictConfig

from imitate import metrics
from imitate.data.report import DataReport
from imitate.judge import agreement, calibration
from imitate.judge.candidates import candidate_outputs, release
from imitate.judge.length_control import lc_from_rows
from imitate.judge.outcomes import judge_metrics, outcome_counts
from imitate.judge.pairwise import Pair, PairwiseJudge
from imitate.judge.run_log import open_run, plain, write_results
from imitate.llm.base import stable_hash
from imitate.style.authoritative import judge_authoritative
from imitate.style.prompt_filter import filter_prompts
from imitate.style.prompt_sets import build_prompt_set
from imitate.style.similarity import StylePair, score_style
from imitate.tracking import cells
from imitate.tracking.reference import TAG_TEACHER

log = logging.getLogger(__name__)
CHATGPT2 = "ChatGPT #2"


def judge_llm(cfg: DictConfig):
    if cfg.get("llm") is None:
        raise ValueError(
            f"python -m imitate.judge {cfg.command} needs a judge model: add llm=<option> "
            "(conf/llm: gpt-4o-mini, gpt-3.5-turbo, local_server, hf)"
        )
    return instantiate(cfg.llm)


def build_judge(cfg: DictConfig) -> PairwiseJudge:
    return PairwiseJudge(judge_llm(cfg), **plain(cfg.judge))


def run_judge(cfg: DictConfig, pairs: list[Pair]) -> tuple[PairwiseJudge, list[dict], dict]:
    """Judge every pair in both orders; the judge, its rows and what its client spent."""
    judge = build_judge(cfg)
    try:
        return judge, judge.judge(pairs), judge.llm.usage_metrics()
    finally:
        release(judge.llm)


def load_items(cfg: DictConfig, report: DataReport):
    prompts = plain(cfg.prompts)
    return filter_prompts(build_prompt_set(prompts, report), cfg.filters, report)


def _tags(
    cfg: DictConfig, candidate: str | None = None, judge: str | None = None
) -> dict[str, str]:
    # Namespaced: logging into a training run's own run must not overwrite its tags.
    tags = {
        "judge.command": cfg.command,
        "judge.prompts": cfg.prompts.name,
        "judge.candidate": candidate,
        "judge.model": judge,
    }
    return {k: str(v) for k, v in tags.items() if v is not None}


def compare(cfg: DictConfig) -> dict[str, float]:
    """Judge the candidate's outputs against the teacher's over the prompt set, both orders."""
    report = DataReport()
    paired = candidate_outputs(load_items(cfg, report), cfg.candidate, report)
    judge, rows, usage = run_judge(
        cfg, [Pair(i.id, i.prompt, output, i.reference) for i, output in paired]
    )
    values = judge_metrics(rows)
    lc = lc_from_rows(rows)
    if lc is not None:
        values[metrics.JUDGE_LC_WIN_RATE] = lc.win_rate
    values |= usage
    counts = outcome_counts(rows) | dict(report.counts)
    summaries = {"counts": counts, "length_control": asdict(lc) if lc else None}
    _log(
        cfg,
        values,
        {"pairs": rows},
        summaries,
        _tags(cfg, candidate=cfg.candidate.name, judge=judge.llm.name),
    )
    return values


def style(cfg: DictConfig) -> dict[str, float]:
    """Table 2's metrics for the candidate's outputs against the teacher's replies."""
    report = DataReport()
    paired = candidate_outputs(load_items(cfg, report), cfg.candidate, report)
    pairs = [StylePair(i.id, i.prompt, output, i.reference) for i, output in paired]
    return _score_style(cfg, pairs, report, _tags(cfg, candidate=cfg.candidate.name))


def chatgpt2(cfg: DictConfig) -> dict[str, float]:
    """Table 2's upper bound: the second teacher reply set scored against the first, as a teacher row."""
    report = DataReport()
    items = load_items(cfg, report)
    with_second = [i for i in items if i.second_reference is not None]
    report.drop("no_second_reference", len(items) - len(with_second))
    if not with_second:
        raise ValueError(
            f"prompts={cfg.prompts.name} has no second_reference replies; ChatGPT #2 needs a "
            "prompt set with two teacher reply sets (prompts=vicuna80)"
        )
    pairs = [StylePair(i.id, i.prompt, i.second_reference, i.reference) for i in with_second]
    tags = _tags(cfg) | {cells.TAG_ROLE: cells.ROLE_TEACHER, TAG_TEACHER: CHATGPT2}
    computed = {
        "prompts": plain(cfg.prompts),
        "filters": plain(cfg.filters),
        "style": plain(cfg.style),
    }
    tags[cells.TAG_CONFIG_HASH] = stable_hash(computed)[:16]
    if cfg.log.parent_run_id:
        tags[cells.TAG_PARENT] = str(cfg.log.parent_run_id)
    return _score_style(cfg, pairs, report, tags)


def _score_style(cfg, pairs: list[StylePair], report: DataReport, tags: dict) -> dict[str, float]:
    verdicts = None
    if cfg.style.authoritative is not None:
        tone_cfg = plain(cfg.style.authoritative)
        llm = judge_llm(cfg)
        try:
            verdicts = judge_authoritative(llm, pairs, tone_cfg)
        finally:
            release(llm)
    judged = None if verdicts is None else [v["authoritative"] for v in verdicts]
    rows, values = score_style(pairs, judged)
    if verdicts is not None:
        for row, verdict in zip(rows, verdicts, strict=True):
            row["judge_reply"] = verdict["judge_reply"]
        report.count(
            "authoritative_unparseable", [v["authoritative"] for v in verdicts].count(None)
        )
    _log(cfg, values, {"rows": rows}, {"counts": dict(report.counts)}, tags)
    return values


def calibrate(cfg: DictConfig) -> dict[str, float]:
    """Our judge on labelled pairs (AlpacaEval's GPT-4 annotations) beside the trivial baselines."""
    report = DataReport()
    pairs = calibration.read_labelled_pairs(cfg.calibration.pairs, report)
    if cfg.calibration.limit:
        pairs = pairs[: int(cfg.calibration.limit)]
    judge, rows, usage = run_judge(cfg, calibration.as_judge_pairs(pairs))
    judged = {
        f"judge {judge.llm.name} (both orders)": [calibration.label_of_outcome(r["outcome"]) for r in rows],
        f"judge {judge.llm.name} (conservative)": [calibration.label_of_outcome(r["conservative_outcome"]) for r in rows],
    }  # fmt: skip
    table = calibration.calibration_table(pairs, judged, int(cfg.calibration.seed))
    balance = calibration.label_balance(pairs)
    print(calibration.format_table(table, balance))
    values = judge_metrics(rows) | usage | calibration_metrics(table, balance)
    summaries = {"balance": balance, "counts": outcome_counts(rows) | dict(report.counts)}
    _log(
        cfg,
        values,
        {"agreement": table, "pairs": rows},
        summaries,
        _tags(cfg, judge=judge.llm.name),
    )
    return values


def human_agreement(cfg: DictConfig) -> dict[str, float]:
    """S1/S2 agreement of our judge with the human ratings exported by the rating app."""
    if not cfg.human_export:
        raise ValueError("agreement needs human_export=<the rating app's judge_pairs.jsonl>")
    export = agreement.read_human_export(cfg.human_export)
    judge, rows, usage = run_judge(cfg, agreement.pairs_of_export(export))
    result = agreement.human_judge_agreement(agreement.agreement_rows(export, rows))
    print("\n".join(f"{k} = {v}" for k, v in result.items()))
    headline = {
        metrics.JUDGE_HUMAN_AGREEMENT_S1: result["s1_agreement"],
        metrics.JUDGE_HUMAN_AGREEMENT_S2: result["s2_agreement"],
    }
    values = usage | {name: value for name, value in headline.items() if value is not None}
    _log(cfg, values, {"pairs": rows}, {"agreement": result}, _tags(cfg, judge=judge.llm.name))
    return values


def calibration_metrics(table: list[dict], balance: dict[str, float]) -> dict[str, float]:
    """The judge's own row (both orders) and the majority-label baseline, as metrics."""
    judge_row = table[0]  # calibration_table puts the judge's rules first
    values = {
        metrics.JUDGE_GOLD_AGREEMENT: judge_row["agreement"],
        metrics.JUDGE_GOLD_KAPPA: judge_row["kappa"],
        metrics.JUDGE_GOLD_BASELINE_AGREEMENT: max(
            balance["output_2_share"], 1 - balance["output_2_share"]
        ),
    }
    return {k: float(v) for k, v in values.items() if v is not None and v == v}  # no None / nan


def _log(cfg, values, tables, summaries, tags) -> None:
    client, run_id, created = open_run(cfg, tags)
    write_results(client, run_id, cfg.command, values, tables, summaries, cfg)
    if created:
        client.set_terminated(run_id, "FINISHED")
    print("\n".join(f"{k} = {v:.4f}" for k, v in sorted(values.items())))
    counts = summaries.get("counts") or {}
    print("counts: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))  # drops, errors
    print(f"logged to MLflow run {run_id} ({cfg.tracking.uri})")


COMMANDS = {
    "compare": compare,
    "style": style,
    "chatgpt2": chatgpt2,
    "calibrate": calibrate,
    "agreement": human_agreement,
}
