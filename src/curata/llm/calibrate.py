"""How far to trust a judge: agreement with a small human-labelled set.

Human labels are binary (true/false, keep/drop, good/bad, 1/0: KTO's desirable flag, review
decisions) or ordinal numbers (1-5 ratings). Reported: accuracy and Cohen's kappa of the judge's
thresholded score against binary labels, Spearman's rank correlation of the score with the label,
the score histogram, and a warning when the scores collapse onto one value (deita #36), which
makes a judge useless for ranking whatever its accuracy.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

POSITIVE = frozenset(
    {"true", "1", "yes", "keep", "kept", "good", "desirable", "accept", "accepted", "chosen"}
)
NEGATIVE = frozenset(
    {"false", "0", "no", "drop", "dropped", "bad", "undesirable", "reject", "rejected", "discard"}
)
COLLAPSE_SHARE = 0.8
# Scores whose middle half spans less than this are a narrow band: a judge scoring by digit
# probabilities (a local model) rarely repeats one value exactly, yet may barely separate records.
NARROW_BAND = 0.1


def label_value(value: Any) -> float | None:
    """A human label as a number: 1/0 for binary words, the number for ratings, None if unknown."""
    if value is None:
        return None
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(float(value)) else None
    text = str(value).strip().lower()
    if text in POSITIVE:
        return 1.0
    if text in NEGATIVE:
        return 0.0
    try:
        return float(text)
    except ValueError:
        return None


def cohen_kappa(a: Sequence[int], b: Sequence[int]) -> float:
    """Agreement beyond chance between two labelings of the same items."""
    n = len(a)
    if n == 0:
        return math.nan
    observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
    classes = set(a) | set(b)
    count_a, count_b = Counter(a), Counter(b)
    expected = sum(count_a[c] * count_b[c] for c in classes) / (n * n)
    if expected >= 1.0:
        return 1.0 if observed >= 1.0 else 0.0
    return (observed - expected) / (1 - expected)


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return math.nan
    from scipy.stats import spearmanr

    return float(spearmanr(x, y).statistic)


@dataclass
class Calibration:
    labelled: int
    scored: int
    threshold: float
    binary: bool
    accuracy: float | None
    kappa: float | None
    spearman: float
    histogram: list[int]
    bin_edges: list[float]
    top_value_share: float
    warnings: list[str] = field(default_factory=list)
    # The 25th and 75th percentiles of the scores (None when nothing was scored).
    band: tuple[float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        def clean(v: float | None) -> float | None:
            return None if v is None or math.isnan(v) else round(v, 4)

        return {
            "labelled": self.labelled,
            "scored": self.scored,
            "threshold": self.threshold,
            "binary_labels": self.binary,
            "accuracy": clean(self.accuracy),
            "cohen_kappa": clean(self.kappa),
            "spearman": clean(self.spearman),
            "histogram": self.histogram,
            "bin_edges": self.bin_edges,
            "top_value_share": round(self.top_value_share, 4),
            "band_25_75": None if self.band is None else [round(v, 4) for v in self.band],
            "warnings": self.warnings,
        }


def calibrate(
    labels: Sequence[float], scores: Sequence[float | None], threshold: float = 0.5, bins: int = 10
) -> Calibration:
    """Agreement of judge `scores` (in [0, 1], None when unscored) with human `labels`."""
    pairs = [(lab, s) for lab, s in zip(labels, scores, strict=True) if s is not None and not math.isnan(s)]
    warnings: list[str] = []
    unscored = len(labels) - len(pairs)
    if unscored:
        warnings.append(f"{unscored} of {len(labels)} labelled records could not be scored")
    human = [p[0] for p in pairs]
    judged = [p[1] for p in pairs]
    binary = set(human) <= {0.0, 1.0}
    accuracy = kappa = None
    if binary and pairs:
        predicted = [int(s >= threshold) for s in judged]
        truth = [int(h) for h in human]
        accuracy = sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(pairs)
        kappa = cohen_kappa(truth, predicted)
    counts, edges = np.histogram(np.asarray(judged, dtype=np.float64), bins=bins, range=(0.0, 1.0))
    top_share = Counter(round(s, 6) for s in judged).most_common(1)[0][1] / len(judged) if judged else 0.0
    if judged and top_share > COLLAPSE_SHARE:
        value = Counter(round(s, 6) for s in judged).most_common(1)[0][0]
        warnings.append(
            f"score collapse: {top_share:.0%} of scores equal {value:g}; the judge does not separate "
            "records (try another model, a finer rubric or pairwise comparison)"
        )
    band = None
    if judged:
        low, high = (float(v) for v in np.percentile(np.asarray(judged, dtype=np.float64), [25, 75]))
        band = (low, high)
        if top_share <= COLLAPSE_SHARE and len(judged) >= 5 and high - low < NARROW_BAND:
            warnings.append(
                f"narrow scores: half of the scores lie between {low:.3f} and {high:.3f}; a fixed "
                f"threshold ({threshold:g}) separates little. Rank by the score, choose a threshold "
                "inside that band, or try another model or pairwise comparison"
            )
    rho = spearman(judged, human)
    if pairs and math.isnan(rho):
        warnings.append("Spearman is undefined: the scores or the labels are all equal")
    return Calibration(
        labelled=len(labels),
        scored=len(pairs),
        threshold=threshold,
        binary=binary,
        accuracy=accuracy,
        kappa=kappa,
        spearman=rho,
        histogram=[int(c) for c in counts],
        bin_edges=[round(float(e), 3) for e in edges],
        top_value_share=top_share,
        warnings=warnings,
        band=band,
    )


def describe(result: Calibration) -> list[str]:
    def fmt(v: float | None) -> str:
        return "n/a" if v is None or math.isnan(v) else f"{v:.3f}"

    lines = [
        f"labelled records: {result.labelled}, scored by the judge: {result.scored}",
        f"accuracy (score >= {result.threshold:g} means good): {fmt(result.accuracy)}",
        f"Cohen's kappa: {fmt(result.kappa)}",
        f"Spearman (score vs label): {fmt(result.spearman)}",
        *([f"scores 25th-75th percentile: {result.band[0]:.3f}-{result.band[1]:.3f}"] if result.band else []),
        "score histogram:",
    ]
    peak = max(result.histogram) if result.histogram else 0
    for i, count in enumerate(result.histogram):
        bar = "#" * (round(30 * count / peak) if peak else 0)
        lines.append(f"  {result.bin_edges[i]:.1f}-{result.bin_edges[i + 1]:.1f} {count:5d} {bar}")
    lines += [f"warning: {w}" for w in result.warnings]
    return lines
