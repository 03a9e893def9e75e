"""near_dedup on the Ray engine against the local engine: time of the stage and of the whole run,
and whether the outputs are identical.

The records are `end_to_end.py`'s (real public text from ../shared/data with 5% exact copies and
5% copies with 5-15% of words edited); the recipe is the dedup part of the default one
(normalize, exact_dedup, near_dedup, decide), so the figures are about near_dedup.

    nice .venv/bin/python benchmarks/ray_near_dedup.py --n 50000
    nice .venv/bin/python benchmarks/ray_near_dedup.py --n 50000 --stage semantic_dedup

`--stage semantic_dedup` measures semantic_dedup instead (normalize, exact_dedup,
`embed: {model: hashing}`, semantic_dedup, decide).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from end_to_end import records_file

RECIPE = """
stages:
  - normalize
  - exact_dedup
  - near_dedup
  - decide:
      actions: {exact_duplicate: drop, near_duplicate: drop}
"""
SEMANTIC_RECIPE = """
stages:
  - normalize
  - exact_dedup
  - embed: {model: hashing}
  - semantic_dedup
  - decide:
      actions: {exact_duplicate: drop, semantic_duplicate: drop}
"""
RECIPES = {"near_dedup": RECIPE, "semantic_dedup": SEMANTIC_RECIPE}
COMPARED = ("curated.jsonl", "rejected.jsonl", "findings.jsonl")


def run(data: Path, out: Path, recipe: Path, engine: str, workers: int, stage: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "curata.cli", "run", str(data), "-o", str(out), "--quiet"]
    command += ["--recipe", str(recipe), "--engine", engine, "--workers", str(workers)]
    shutil.rmtree(out, ignore_errors=True)  # a finished run directory would be reused, not rerun
    start = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    summary = json.loads((out / "summary.json").read_text())
    stages = {s["name"]: s["seconds"] for s in summary["stages"]}
    return {
        "seconds": time.perf_counter() - start,
        "stages": stages,
        "summary": summary["stage_summaries"][stage],
    }


def identical(local: Path, ray: Path) -> bool:
    same = all((local / name).read_bytes() == (ray / name).read_bytes() for name in COMPARED)
    return same and pq.read_table(local / "signals.parquet").equals(pq.read_table(ray / "signals.parquet"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
    parser.add_argument("--work", type=Path, default=Path("bench-out/ray_near_dedup"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--stage", choices=sorted(RECIPES), default="near_dedup")
    args = parser.parse_args()
    stage = args.stage
    if stage != "near_dedup" and args.work == Path("bench-out/ray_near_dedup"):
        args.work = Path(f"bench-out/ray_{stage}")
    data = records_file(args.data_dir, args.work, args.n)
    recipe = args.work / "recipe.yaml"
    recipe.write_text(RECIPES[stage])
    print(f"{args.n} records, load average {os.getloadavg()[0]:.1f}")
    results = {}
    for engine in ("local", "ray"):
        out = args.work / f"out-{args.n}-{engine}"
        results[engine] = run(data, out, recipe, engine, args.workers, stage)
        r = results[engine]
        print(
            f"{engine}: run {r['seconds']:.1f} s, {stage} {r['stages'][stage]:.1f} s, "
            f"stages {r['stages']}, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    print(f"{stage}: {results['local']['summary']}")
    same = identical(args.work / f"out-{args.n}-local", args.work / f"out-{args.n}-ray")
    same = same and results["local"]["summary"] == results["ray"]["summary"]
    print(f"outputs identical: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
