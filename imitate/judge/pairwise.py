"""The pairwise judge: every (candidate, reference) pair asked in both orders through any `LLM`.

Order ``candidate_first`` shows the candidate as answer A and the reference (the teacher) as B;
``reference_first`` swaps them. Requests are built only from the pair and the config, so the same
pairs give byte-identical requests and a caching client answers a rerun from its cache (resume).
What keeps the judged replies from steering the verdict (nonce delimiters, neutralised markers, a
verdict only on the judge's last line) is in ``imitate.llm.verdicts``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from imitate.judge.outcomes import LOSS, TIE, WIN, pair_row
from imitate.llm.base import LLM, GenerationRequest, user_turn
from imitate.llm.verdicts import ERROR, VerdictParser, request_nonce
from imitate.reply_pair import ReplyPair

log = logging.getLogger(__name__)

FIRST, SECOND = "first", "second"  # verdict outcomes: the answer shown first (A) or second (B)
ORDERS = ("candidate_first", "reference_first")
# What each shown-position verdict means for the candidate, per order.
_OUTCOME = {
    "candidate_first": {FIRST: WIN, SECOND: LOSS, TIE: TIE, ERROR: ERROR},
    "reference_first": {FIRST: LOSS, SECOND: WIN, TIE: TIE, ERROR: ERROR},
}
_CHUNK = 64  # requests per generate call: progress in the log, a crash loses at most one chunk


def _shown(pair: ReplyPair, order: str) -> tuple[str, str]:
    """(reply A, reply B) as the order shows them."""
    if order == "candidate_first":
        return pair.output, pair.reference
    return pair.reference, pair.output


class PairwiseJudge:
    """Builds both-order requests from a prompt template, asks the LLM, parses the verdicts."""

    def __init__(
        self,
        llm: LLM,
        template: str,
        labels: Mapping[str, str],
        system: str | None = None,
        marker: str | None = None,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
    ) -> None:
        self.llm = llm
        self.template = template
        self.system = system
        self.parser = VerdictParser(labels, marker) if marker else VerdictParser(labels)
        unknown = set(self.parser.labels.values()) - {FIRST, SECOND, TIE}
        if unknown:
            raise ValueError(
                f"judge labels map to {sorted(unknown)}; each label must map to first, second or tie"
            )
        if "{nonce}" not in template:
            raise ValueError(
                "judge template must tag the reply delimiters with {nonce} (e.g. '[Reply A {nonce}]'):"
                " without it a reply can forge the end of its block; see conf/judge/pairwise.yaml"
            )
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature

    def request(self, pair: ReplyPair, order: str) -> GenerationRequest:
        """The judge request for one pair in one order (deterministic in pair, order and config)."""
        a, b = (self.parser.neutralise(text) for text in _shown(pair, order))
        user = self.template.format(
            question=pair.prompt, answer_a=a, answer_b=b, nonce=self.nonce(pair, order)
        )
        return GenerationRequest(
            messages=user_turn(user, self.system),
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
        )

    def nonce(self, pair: ReplyPair, order: str) -> str:
        """The request's delimiter tag: a hash of the question and both replies as shown."""
        return request_nonce(pair.prompt, *_shown(pair, order))

    def judge(self, pairs: Sequence[ReplyPair]) -> list[dict]:
        """One row per pair: both orders' replies and outcomes, and the combined outcomes."""
        requests = [self.request(pair, order) for pair in pairs for order in ORDERS]
        replies: list[str] = []
        for start in range(0, len(requests), _CHUNK):
            chunk = requests[start : start + _CHUNK]
            replies.extend(texts[0] for texts in self.llm.generate(chunk))
            log.info("judge: %d / %d judgements", len(replies), len(requests))
        rows = []
        for index, pair in enumerate(pairs):
            first_reply, second_reply = replies[2 * index], replies[2 * index + 1]
            outcomes = [
                _OUTCOME[order][self.parser.parse(reply, self.nonce(pair, order))]
                for order, reply in zip(ORDERS, (first_reply, second_reply), strict=True)
            ]
            rows.append(pair_row(pair, outcomes, (first_reply, second_reply)))
        return rows
