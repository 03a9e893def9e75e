"""Agreement between reviewers, and between reviewers and the automatic decisions (rules, LLM
judge): Cohen's kappa on the records both sides decided."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters' labels on the same items; None with no items, 1.0 when both
    raters always give the same single category."""
    if len(a) != len(b):
        raise ValueError("both raters must rate the same items")
    n = len(a)
    if n == 0:
        return None
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if math.isclose(expected, 1.0):
        return 1.0 if math.isclose(observed, 1.0) else 0.0
    return (observed - expected) / (1.0 - expected)


@dataclass(frozen=True)
class Agreement:
    left: str
    right: str
    items: int
    kappa: float | None
    observed: float | None


def pair(left: str, right: str, a: Mapping[str, str], b: Mapping[str, str]) -> Agreement:
    shared = sorted(set(a) & set(b))
    xs, ys = [a[i] for i in shared], [b[i] for i in shared]
    kappa = cohen_kappa(xs, ys)
    observed = sum(x == y for x, y in zip(xs, ys, strict=True)) / len(shared) if shared else None
    return Agreement(left, right, len(shared), kappa, observed)


def agreements(
    reviewers: Mapping[str, Mapping[str, str]], automatic: Mapping[str, Mapping[str, str]]
) -> list[Agreement]:
    """Every pair of reviewers, then every reviewer against each automatic rater. Ratings are
    keep / drop per record id."""
    out = [pair(x, y, reviewers[x], reviewers[y]) for x, y in combinations(sorted(reviewers), 2)]
    for name in sorted(reviewers):
        for auto in automatic:
            out.append(pair(name, auto, reviewers[name], automatic[auto]))
    return out
