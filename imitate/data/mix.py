"""Mix sources into one seeded order: the order every token budget takes its prefix from."""

from __future__ import annotations

import random


def seeded_mixture(
    per_source: dict[str, list[dict]], weights: dict[str, float], seed: int
) -> list[dict]:
    """Interleave shuffled sources; each next conversation comes from a source with probability ∝ weight.

    A source that runs out leaves the draw, so every conversation is used exactly once, and any
    prefix of the result (a token budget) holds the sources in their weighted proportions.
    """
    rng = random.Random(seed)
    queues = {}
    for name in sorted(per_source):
        shuffled = list(per_source[name])
        random.Random(f"{seed}:{name}").shuffle(shuffled)
        if shuffled:
            queues[name] = shuffled[::-1]  # pop() from the end takes them in shuffled order
    mixed = []
    while queues:
        names = list(queues)
        name = rng.choices(names, weights=[weights[n] for n in names])[0]
        mixed.append(queues[name].pop())
        if not queues[name]:
            del queues[name]
    return mixed


def cap(
    conversations: list[dict], max_conversations: int | None, seed: int, name: str
) -> list[dict]:
    """The first ``max_conversations`` of a source's own seeded order (all when ``None``)."""
    if max_conversations is None or max_conversations >= len(conversations):
        return conversations
    shuffled = list(conversations)
    random.Random(f"{seed}:cap:{name}").shuffle(shuffled)
    return shuffled[:max_conversations]
