"""Must-show (#7): a 1,000-record selection vs a random 1,000 on real data.

Runs `curata run` with embed (fast) + quality + decide + select (the stage's default method and
settings, n=1000) on GPTeacher Toolformer and on LIMA, then reads signals.parquet and prints, for
the selected 1,000, for DEITA's published score-first walk on the same rows (`diversity: 0`,
computed here from the same signals) and for random 1,000s of the same eligible (kept) records
(`--seeds` draws; mean ± standard deviation, and the best draw): the mean `quality` and the
embedding diversity (mean pairwise cosine distance and Vendi score of the `embedding` column).

    .venv/bin/python benchmarks/selection_quality.py [--data-dir ../shared/data] [--n 1000]
        [--seeds 10] [--threshold 0.9] [--diversity 1.0] [--model fast]
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
from curata.select.methods import deita_select
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
  - select: {select}
"""
METRICS = ("mean_quality", "mean_pairwise_cosine_distance", "vendi")


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


def figures(quality: np.ndarray, vectors: np.ndarray) -> dict[str, float]:
    return {
        "mean_quality": float(quality.mean()),
        "mean_pairwise_cosine_distance": mean_pairwise_distance(vectors),
        "vendi": vendi_score(vectors),
    }


def show(name: str, n: int, values: dict[str, float]) -> None:
    print(
        f"  {name:<34} n={n:>5,}  mean quality {values['mean_quality']:.4f}  "
        f"mean pairwise cosine distance {values['mean_pairwise_cosine_distance']:.4f}  "
        f"Vendi {values['vendi']:.2f}"
    )


def random_baseline(
    eligible: np.ndarray, budget: int, quality: np.ndarray, vectors: np.ndarray, seeds: int
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Mean, standard deviation and maximum of each figure over `seeds` random draws."""
    draws = []
    for seed in range(seeds):
        rows = np.random.default_rng(seed).choice(eligible, size=budget, replace=False)
        draws.append(figures(quality[rows], vectors[rows]))
    table = {k: np.array([d[k] for d in draws]) for k in METRICS}
    mean = {k: float(v.mean()) for k, v in table.items()}
    spread = {k: float(v.std()) for k, v in table.items()}
    best = {k: float(v.max()) for k, v in table.items()}
    return mean, spread, best


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=here.parent.parent / "shared" / "data")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seeds", type=int, default=10, help="random draws for the baseline")
    parser.add_argument("--model", default="fast")
    parser.add_argument("--threshold", type=float, default=None, help="DEITA's cosine threshold")
    parser.add_argument("--diversity", type=float, default=None, help="the select stage's blend weight")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    args = parser.parse_args()
    select: dict[str, float | int | str] = {"n": args.n}
    if args.threshold is not None:
        select["threshold"] = args.threshold
    if args.diversity is not None:
        select["diversity"] = args.diversity
    threshold = args.threshold if args.threshold is not None else 0.9
    verdicts = []
    with tempfile.TemporaryDirectory() as tmp:
        recipe = Path(tmp) / "recipe.yaml"
        recipe.write_text(RECIPE.format(model=args.model, select=json.dumps(select)))
        print(f"select settings: {json.dumps(select)} (the rest are the stage defaults)")
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
            stage = json.loads((out / "summary.json").read_text())["stage_summaries"]["select"]
            kept = signals.column("kept").to_numpy(zero_copy_only=False).astype(bool)
            selected = signals.column("selected").to_numpy(zero_copy_only=False).astype(bool)
            quality = np.nan_to_num(
                signals.column("quality").to_numpy(zero_copy_only=False).astype(np.float64)
            )
            vectors = matrix(signals.column("embedding"))
            eligible = np.flatnonzero(kept)
            budget = int(selected.sum())
            print(
                f"\n{name}: {total:,} records, {len(eligible):,} kept by the rules, {budget:,} selected "
                f"(curata run {seconds:.1f}s, select stage {stage_seconds(out):.1f}s)"
            )
            chosen = figures(quality[selected], vectors[selected])
            show("selected (curata, default select)", budget, chosen)
            published = eligible[deita_select(quality[eligible], vectors[eligible], budget, threshold)]
            as_published = figures(quality[published], vectors[published])
            show("DEITA as published (diversity 0)", len(published), as_published)
            mean, spread, best = random_baseline(eligible, budget, quality, vectors, args.seeds)
            print(
                f"  {'random, ' + str(args.seeds) + ' draws (mean ± sd)':<34} n={budget:>5,}  "
                f"mean quality {mean['mean_quality']:.4f} ± {spread['mean_quality']:.4f}  "
                f"mean pairwise cosine distance {mean['mean_pairwise_cosine_distance']:.4f} "
                f"± {spread['mean_pairwise_cosine_distance']:.4f}  "
                f"Vendi {mean['vendi']:.2f} ± {spread['vendi']:.2f}"
            )
            show(f"random, best of {args.seeds} draws", budget, best)
            print(
                "  curata's own summary: mean quality selected "
                f"{stage['mean_score_selected']:.4f} / random {stage['mean_score_random']:.4f}; "
                f"diversity selected {stage.get('diversity_selected')} "
                f"/ random {stage.get('diversity_random')}"
            )
            better = chosen["mean_quality"] > mean["mean_quality"]
            diverse = all(chosen[k] >= mean[k] for k in METRICS[1:])
            above_every_draw = all(chosen[k] >= best[k] for k in METRICS)
            verdicts.append(better and diverse)
            print(
                f"  higher mean quality than random: {'yes' if better else 'NO'}; "
                f"diversity no lower on both metrics: {'yes' if diverse else 'NO'}; "
                f"at or above the best random draw on all three: {'yes' if above_every_draw else 'no'}"
            )
    print("\nmust-show:", "PASS" if all(verdicts) else "FAIL")


def stage_seconds(out: Path) -> float:
    stages = json.loads((out / "summary.json").read_text()).get("stages", [])
    return float(next((s.get("seconds", 0.0) for s in stages if s.get("name") == "select"), 0.0))


if __name__ == "__main__":
    main()
