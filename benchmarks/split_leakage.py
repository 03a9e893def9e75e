"""Must-show (#7): train / validation / test splits of GPTeacher Toolformer with zero cross-split
duplicates, counted independently of curata's own clusters.

Runs `curata run` on the set with exact_dedup, near_dedup, embed (fast), semantic_dedup and split,
in two recipes: `flagged` keeps every duplicate (they are only flagged, so the split itself must
keep each cluster whole: the hard case) and `default` drops them as the default recipe does. Then,
from the output files alone, it counts every pair of records in different splits that is
- an exact duplicate: the same words in the same order, ignoring case, whitespace and punctuation;
- a near duplicate: word-2-gram Jaccard >= the threshold (0.5), all pairs, exact sparse products
  (no MinHash); `near (any length)` also counts records under near_dedup's 10-shingle minimum;
- a semantic duplicate: cosine >= the threshold (0.95) of the embeddings centred on the set's mean
  (as semantic_dedup compares them), all pairs, exact.
It also shows what grouping by near dedup's star clusters alone (without their connected
components) would have leaked.

    .venv/bin/python benchmarks/split_leakage.py [--data-dir ../shared/data] [--recipes flagged default]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from scipy.sparse import csr_matrix

from curata.dedup.semantic import centred
from curata.select.splits import assign_splits, linked_groups
from curata.stages.normalize import digest_column, digest_matrix
from curata_run import run_recipe
from selection_quality import DATASETS, matrix, to_alpaca

WORD = re.compile(r"[a-z0-9]+|[^\x00-\x7f]+")
SPLITS = ("train", "validation", "test")
NEAR_THRESHOLD = 0.5
MIN_SHINGLES = 10
SEMANTIC_THRESHOLD = 0.95
BLOCK = 512
TIMED = ("exact_dedup", "near_dedup", "embed", "semantic_dedup", "split")
STAGES = """name: split-leakage
stages:
  - normalize
  - stats
  - checks
  - quality
  - exact_dedup
  - near_dedup
  - embed: {{model: fast}}
  - semantic_dedup
  - decide: {decide}
  - split
"""
DECIDE = {
    "flagged": "{actions: {exact_duplicate: flag, near_duplicate: flag, semantic_duplicate: flag}}",
    "default": "{actions: {exact_duplicate: drop, near_duplicate: drop, semantic_duplicate: flag}}",
}


def words(record: dict[str, str]) -> list[str]:
    text = " ".join(str(record.get(k) or "") for k in ("instruction", "input", "output"))
    return WORD.findall(text.lower())


def cross_pairs_of_groups(keys: Sequence[object], split: np.ndarray) -> int:
    """Pairs with the same key in different splits."""
    by_key: dict[object, list[str]] = {}
    for key, name in zip(keys, split.tolist(), strict=True):
        by_key.setdefault(key, []).append(name)
    total = 0
    for names in by_key.values():
        counts = np.array([names.count(s) for s in SPLITS])
        total += int((counts.sum() ** 2 - (counts**2).sum()) // 2)
    return total


def cross_pairs_blockwise(
    n: int, split: np.ndarray, similar: Callable[[slice], np.ndarray], allowed: np.ndarray | None = None
) -> int:
    """Pairs i < j in different splits whose similarity row block marks them (exact, all pairs)."""
    codes = np.unique(split, return_inverse=True)[1].ravel()
    total = 0
    for start in range(0, n, BLOCK):
        rows = slice(start, min(n, start + BLOCK))
        hit = similar(rows)
        upper = np.arange(n)[None, :] > np.arange(rows.start, rows.stop)[:, None]
        mask = hit & upper & (codes[rows][:, None] != codes[None, :])
        if allowed is not None:
            mask &= allowed[rows][:, None] & allowed[None, :]
        total += int(mask.sum())
    return total


def bigram_matrix(texts: list[list[str]]) -> csr_matrix:
    vocabulary: dict[tuple[str, str], int] = {}
    indptr, indices = [0], []
    for tokens in texts:
        ids = {vocabulary.setdefault(pair, len(vocabulary)) for pair in itertools.pairwise(tokens)}
        indices.extend(sorted(ids))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    return csr_matrix((data, indices, indptr), shape=(len(texts), max(1, len(vocabulary))))


def near_similar(shingles: csr_matrix) -> Callable[[slice], np.ndarray]:
    sizes = np.asarray(shingles.sum(axis=1)).ravel()
    transposed = shingles.T.tocsc()

    def similar(rows: slice) -> np.ndarray:
        inter = (shingles[rows] @ transposed).toarray()
        union = sizes[rows][:, None] + sizes[None, :] - inter
        return np.asarray((inter >= NEAR_THRESHOLD * np.maximum(union, 1)) & (union > 0))

    return similar


def semantic_similar(vectors: np.ndarray) -> Callable[[slice], np.ndarray]:
    def similar(rows: slice) -> np.ndarray:
        return np.asarray(vectors[rows] @ vectors.T >= SEMANTIC_THRESHOLD)

    return similar


def star_only_splits(signals_path: Path, rows: np.ndarray) -> np.ndarray:
    """The split stage's grouping with near dedup's stars but not their components (as before)."""
    table = pq.read_table(signals_path)
    columns = [
        table.column(c).to_numpy()[rows]
        for c in ("exact_dup_cluster", "near_dup_cluster", "semantic_dup_cluster")
    ]
    digests = digest_matrix(table.column(digest_column("prompt"))).view("V16").ravel()[rows]
    same = np.unique(digests, return_inverse=True)[1].ravel()
    columns.append(np.where(np.bincount(same)[same] > 1, same, -1))
    groups = linked_groups(len(rows), columns)
    return assign_splits(groups, None, {"train": 0.8, "validation": 0.1, "test": 0.1})


def count_leaks(out: Path) -> dict[str, object]:
    summary = json.loads((out / "summary.json").read_text())
    signals = pq.read_table(out / "signals.parquet", columns=["id", "split", "embedding"])
    ids = signals.column("id").to_pylist()
    row_of = {i: r for r, i in enumerate(ids)}
    records: dict[str, dict[str, str]] = {}
    split_of: dict[str, str] = {}
    for name in SPLITS:
        with open(out / "splits" / f"{name}.jsonl", encoding="utf-8") as handle:
            for record in map(json.loads, handle):
                records[record["id"]] = record
                split_of[record["id"]] = name
    chosen = sorted(records, key=lambda i: row_of[i])
    rows = np.array([row_of[i] for i in chosen])
    split = np.array([split_of[i] for i in chosen], dtype=object)
    tokens = [words(records[i]) for i in chosen]
    shingles = bigram_matrix(tokens)
    long_enough = np.array([len(set(itertools.pairwise(t))) >= MIN_SHINGLES for t in tokens])
    # Centred on every input record's embedding, as semantic_dedup centres them.
    vectors = centred(matrix(signals.column("embedding")))[rows]
    near = near_similar(shingles)
    stars = star_only_splits(out / "signals.parquet", rows)
    return {
        "records in splits": len(chosen),
        "sizes": {s: int((split == s).sum()) for s in SPLITS},
        "exact": cross_pairs_of_groups([tuple(t) for t in tokens], split),
        "near": cross_pairs_blockwise(len(rows), split, near, long_enough),
        "near (any length)": cross_pairs_blockwise(len(rows), split, near),
        "semantic": cross_pairs_blockwise(len(rows), split, semantic_similar(vectors)),
        "near, if grouped by star clusters only": cross_pairs_blockwise(len(rows), stars, near, long_enough),
        "curata leakage check": summary["stage_summaries"]["split"]["leakage"],
        "stage seconds": {s["name"]: s.get("seconds") for s in summary["stages"] if s["name"] in TIMED},
    }


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=here.parent.parent / "shared" / "data")
    parser.add_argument("--recipes", nargs="+", default=list(DECIDE), choices=list(DECIDE))
    args = parser.parse_args()
    rel, answer = DATASETS["gpteacher_toolformer"]
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        records = Path(tmp) / "gpteacher.jsonl"
        total = to_alpaca(args.data_dir / rel, answer, records)
        for name in args.recipes:
            recipe = Path(tmp) / f"{name}.yaml"
            recipe.write_text(STAGES.format(decide=DECIDE[name]))
            out = Path(tmp) / f"out-{name}"
            start = time.perf_counter()
            run_recipe(records, out, recipe)
            seconds = time.perf_counter() - start
            figures = count_leaks(out)
            print(f"\nGPTeacher Toolformer, {total:,} records, recipe '{name}' (curata run {seconds:.1f}s)")
            for key, value in figures.items():
                print(f"  {key}: {value}")
            leaks = sum(int(figures[k]) for k in ("exact", "near", "semantic"))  # type: ignore[call-overload]
            print(f"  cross-split duplicate pairs (exact + near + semantic): {leaks}")
            verdicts.append(leaks == 0)
    print("\nmust-show:", "PASS" if all(verdicts) else "FAIL")


if __name__ == "__main__":
    main()
