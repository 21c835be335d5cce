"""Authoritative tone as judged by an LLM (the paper: GPT-4), one request per output.

The prompt and verdict format are data (``conf/style/llm_judge.yaml``); a reply without a verdict
marker alone on its last line is None: counted and left out of STYLE_AUTHORITATIVE_JUDGE, never
guessed. The judged output is shown as the pairwise judge shows its replies (nonce-tagged
delimiters, markers broken up: ``imitate.llm.verdicts``), so it cannot vote for itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from imitate.llm.base import LLM, GenerationRequest, user_turn
from imitate.llm.verdicts import DEFAULT_MARKER, ERROR, VerdictParser, request_nonce
from imitate.reply_pair import ReplyPair

AUTHORITATIVE = "authoritative"


def _parser(cfg: Mapping) -> VerdictParser:
    return VerdictParser(cfg["labels"], cfg.get("marker") or DEFAULT_MARKER)


def authoritative_request(pair: ReplyPair, cfg: Mapping) -> GenerationRequest:
    """The tone-judge request for one output (deterministic in the output and the config)."""
    user = cfg["template"].format(
        question=pair.prompt,
        answer=_parser(cfg).neutralise(pair.output),
        nonce=request_nonce(pair.prompt, pair.output),
    )
    return GenerationRequest(
        messages=user_turn(user, cfg.get("system")),
        max_new_tokens=int(cfg.get("max_new_tokens", 128)),
        temperature=float(cfg.get("temperature", 0.0)),
    )


def judge_authoritative(llm: LLM, pairs: Sequence[ReplyPair], cfg: Mapping) -> list[dict]:
    """Per output: the judge's reply and True / False / None (unparseable) for authoritative."""
    parser = _parser(cfg)
    if AUTHORITATIVE not in parser.labels.values():
        raise ValueError(
            f"style.authoritative.labels {dict(cfg['labels'])} map no label to {AUTHORITATIVE!r}"
        )
    replies = [texts[0] for texts in llm.generate([authoritative_request(p, cfg) for p in pairs])]
    verdicts = []
    for pair, reply in zip(pairs, replies, strict=True):
        outcome = parser.parse(reply, request_nonce(pair.prompt, pair.output))
        verdicts.append(
            {
                "id": pair.id,
                "judge_reply": reply,
                "authoritative": None if outcome == ERROR else outcome == AUTHORITATIVE,
            }
        )
    return verdicts
