"""Records with injected near duplicates for the engine identity tests: exact copies, copies
with a few words edited, chains of edits (the ends too far apart: star splitting), and
templated records sharing a long preamble."""

from __future__ import annotations

import random

WORDS = [
    "".join(random.Random(i).choice("abcdefghijklmnopqrstuvwxyz") for _ in range(3 + i % 6))
    for i in range(3000)
]


def sentence(rng: random.Random, words: int) -> list[str]:
    return [rng.choice(WORDS) for _ in range(words)]


def edited(rng: random.Random, words: list[str], edits: int) -> list[str]:
    out = list(words)
    for _ in range(edits):
        out[rng.randrange(len(out))] = rng.choice(WORDS)
    return out


def near_rows(n_bases: int, seed: int = 7) -> list[dict[str, str]]:
    """About 6 records per base: the base, an exact copy, two edited copies, a chain of three
    edits from the base (each step edits the previous one) and a templated variant."""
    rng = random.Random(seed)
    preamble = sentence(rng, 30)
    rows = []
    for b in range(n_bases):
        prompt = sentence(rng, 12)
        answer = sentence(rng, 30)
        versions = [answer, answer, edited(rng, answer, 2), edited(rng, answer, 4)]
        step = answer
        for _ in range(3):
            step = edited(rng, step, 6)
            versions.append(step)
        for words in versions:
            rows.append({"instruction": " ".join(prompt), "input": "", "output": " ".join(words)})
        rows.append(
            {
                "instruction": f"Template task {b}",
                "input": "",
                "output": " ".join(preamble + sentence(rng, 8 if b % 2 else 2)),
            }
        )
    return rows
