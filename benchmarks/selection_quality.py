"""Must-show (#7): a 1,000-record DEITA selection vs a random 1,000 on real data.

Runs `curata run` with embed (fast) + quality + decide + select (DEITA, n=1000) on GPTeacher
Toolformer and on LIMA, then reads signals.parquet and prints, for the selected 1,000 and for a
random 1,000 of the same eligible (kept) records drawn with the select stage's own seed: the mean
`quality` (whatever the run's quality stage wrote) and the embedding diversity (mean pairwise
cosine distance and Vendi score of the `embedding` column).

    .venv/bin/python benchmarks/selection_quality.py [--data-dir ../shared/data] [--n 1000]
        [--threshold 0.9] [--model fast]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from curata.diversity import mean_pairwise_distance, vendi_score
from curata_run import run_recipe

DATASETS = {
    "gpteacher_toolformer": ("gpteacher_toolformer/toolformer-dedupe-only-dataset.json", "response"),
    "lima": ("lima/lima.json", "output"),
}
RECIPE = """name: selection-benchmark
stages:
  - normalize
  - stats
  - checks
  - quality
  - exact_dedup
  - embed: {{model: {model}}}
  - decide
  - select: {{method: deita, n: {n}, threshold: {threshold}}}
"""


def to_alpaca(source: Path, answer: str, target: Path) -> int:
    rows = json.loads(source.read_text(encoding="utf-8"))
    with open(target, "w", encoding="utf-8") as handle:
        for i, row in enumerate(rows):
            record = {"id": str(i), "instruction": row["instruction"], "input": row.get("input", "")}
            handle.write(json.dumps({**record, "output": row[answer]}, ensure_ascii=False) + "\n")
    return len(rows)


def matrix(column) -> np.ndarray:  # type: ignore[no-untyped-def]
    width = column.type.list_size
    flat = column.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float32).reshape(-1, width)


def describe(name: str, quality: np.ndarray, vectors: np.ndarray) -> dict[str, float]:
    figures = {
        "mean_quality": float(quality.mean()),
        "mean_pairwise_cosine_distance": mean_pairwise_distance(vectors),
        "vendi": vendi_score(vectors),
    }
    print(
        f"  {name:<10} n={len(quality):>5,}  mean quality {figures['mean_quality']:.4f}  "
        f"mean pairwise cosine distance {figures['mean_pairwise_cosine_distance']:.4f}  "
        f"Vendi {figures['vendi']:.2f}"
    )
    return figures


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=here.parent.parent / "shared" / "data")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--model", default="fast")
    parser.add_argument("--threshold", type=float, default=0.9, help="DEITA's cosine threshold")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    args = parser.parse_args()
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        recipe = Path(tmp) / "recipe.yaml"
        recipe.write_text(RECIPE.format(model=args.model, n=args.n, threshold=args.threshold))
        for name in args.datasets:
            rel, answer = DATASETS[name]
            records = Path(tmp) / f"{name}.jsonl"
            total = to_alpaca(args.data_dir / rel, answer, records)
            out = Path(tmp) / f"out-{name}"
            start = time.perf_counter()
            run_recipe(records, out, recipe)
            seconds = time.perf_counter() - start
            signals = pq.read_table(
                out / "signals.parquet", columns=["kept", "selected", "quality", "embedding"]
            )
            kept = signals.column("kept").to_numpy(zero_copy_only=False).astype(bool)
            selected = signals.column("selected").to_numpy(zero_copy_only=False).astype(bool)
            quality = np.nan_to_num(
                signals.column("quality").to_numpy(zero_copy_only=False).astype(np.float64)
            )
            vectors = matrix(signals.column("embedding"))
            eligible = np.flatnonzero(kept)
            budget = int(selected.sum())
            # The same baseline the select stage reports: seed 0 over the eligible rows.
            random_rows = np.random.default_rng(0).choice(eligible, size=budget, replace=False)
            print(
                f"\n{name}: {total:,} records, {len(eligible):,} kept by the rules, {budget:,} selected "
                f"(curata run {seconds:.1f}s)"
            )
            chosen = describe("selected", quality[selected], vectors[selected])
            baseline = describe("random", quality[random_rows], vectors[random_rows])
            better = chosen["mean_quality"] > baseline["mean_quality"]
            diverse = (
                chosen["mean_pairwise_cosine_distance"] >= baseline["mean_pairwise_cosine_distance"]
                and chosen["vendi"] >= baseline["vendi"]
            )
            verdicts.append(better and diverse)
            print(
                f"  higher mean quality: {'yes' if better else 'NO'}; "
                f"diversity no lower (both metrics): {'yes' if diverse else 'NO'}"
            )
    print("\nmust-show:", "PASS" if all(verdicts) else "FAIL")


if __name__ == "__main__":
    main()
