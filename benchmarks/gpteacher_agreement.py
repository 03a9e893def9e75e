"""Agreement of curata's near dedup with the GPTeacher author's own similarity pruning.

    python benchmarks/gpteacher_agreement.py [--data ../shared/data]

The author published the Toolformer set deduplicated exactly and then pruned at similarity
0.6/0.7/0.8/0.9 (measure undocumented); `similarity_membership.jsonl` says which records each
pruning kept. We run near dedup (word 2-gram Jaccard, first record of each cluster kept and
chained clusters split into stars, as the stage does without a quality column) on the whole
record and on the prompt side at a range of Jaccard thresholds, and print the precision and
recall of our "removed" against the author's "removed" at 0.9 and 0.8. The mapping between their
similarity and our Jaccard is not 1:1 (an edit distance ratio of 0.9 is a word-bigram Jaccard
near 0.65), so the table shows every threshold and names the one with the best F1 for each of
theirs.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa

from curata.dedup.near import NearDedupParams, find_near_duplicates, sketch
from curata.dedup.shingles import shingle_texts
from curata.stages.dedup_exact import representatives

DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
THRESHOLDS = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


def removed_by_us(texts: list[str], threshold: float) -> np.ndarray:
    params = NearDedupParams(threshold=threshold)
    column = pa.array(texts, pa.large_string())
    shingles = shingle_texts(column, np.arange(len(texts)), len(texts), params.shingle, params.n)
    sketched = sketch([shingles], len(texts), params)
    # The stage's pick without a quality column (the first record of each cluster); passed to
    # near dedup, it also splits chained clusters into stars as the stage does.
    labels = find_near_duplicates(sketched, params, pick=partial(representatives, quality=None)).labels
    return representatives(labels, None) != np.arange(len(texts))


def agreement(ours: np.ndarray, theirs: np.ndarray) -> tuple[float, float, float]:
    both = int(np.sum(ours & theirs))
    precision = both / max(int(ours.sum()), 1)
    recall = both / max(int(theirs.sum()), 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-9)
    return precision, recall, f1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    folder = args.data / "gpteacher_toolformer"
    records = json.loads((folder / "toolformer-dedupe-only-dataset.json").read_text(encoding="utf-8"))
    membership = [
        json.loads(line) for line in (folder / "similarity_membership.jsonl").open(encoding="utf-8")
    ]
    assert [m["index"] for m in membership] == list(range(len(records)))
    keys = {
        "conversation": [f"{r['instruction']}\n\n{r['input']}\n\n{r['response']}" for r in records],
        "prompt": [f"{r['instruction']}\n\n{r['input']}" for r in records],
    }
    theirs = {s: np.array([not m[f"kept_at_{s}"] for m in membership]) for s in ("0.9", "0.8")}
    print(
        f"{len(records):,} records; author removed {int(theirs['0.9'].sum()):,} at 0.9 and "
        f"{int(theirs['0.8'].sum()):,} at 0.8"
    )
    print(
        f"{'key':13s} {'jaccard':>7s} {'removed':>8s} {'secs':>5s}   "
        "vs 0.9: P     R     F1    vs 0.8: P     R     F1"
    )
    best: dict[str, tuple[float, str, float, float, float]] = {}
    for key, texts in keys.items():
        for threshold in THRESHOLDS:
            start = time.perf_counter()
            ours = removed_by_us(texts, threshold)
            seconds = time.perf_counter() - start
            cells = []
            for s in ("0.9", "0.8"):
                p, r, f = agreement(ours, theirs[s])
                cells.append(f"{p:.3f} {r:.3f} {f:.3f}")
                if f > best.get(s, (0.0,))[0]:
                    best[s] = (f, key, threshold, p, r)
            print(
                f"{key:13s} {threshold:7.2f} {int(ours.sum()):8,d} {seconds:5.1f}   "
                f"{cells[0]}          {cells[1]}"
            )
    for s, (f, key, threshold, p, r) in best.items():
        print(
            f"author's {s}: best match {key} key at Jaccard {threshold}: "
            f"precision {p:.3f} recall {r:.3f} F1 {f:.3f}"
        )


if __name__ == "__main__":
    main()
