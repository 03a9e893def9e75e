"""End-to-end throughput of `curata run` (default recipe, no LLM) at several sizes.

Builds alpaca-style records from real public text (../shared/data: GSM8K, the LLaMA-Factory alpaca
demo, LIMA, GPTeacher), with exact and lightly edited copies injected, then runs the real CLI in a
subprocess per size and reports records/s, peak RSS (of the run and its worker processes) and the
time of each stage. The scaling check compares the largest size with the smallest.

    .venv/bin/python benchmarks/end_to_end.py --sizes 100000 300000 1000000 [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

SOURCES = (
    "gsm8k_alpaca/gsm_8k_train.json",
    "llamafactory_demo/alpaca_en_demo.json",
    "lima/lima.json",
)


def load_pool(data_dir: Path) -> list[dict[str, str]]:
    pool: list[dict[str, str]] = []
    for rel in SOURCES:
        for row in json.loads((data_dir / rel).read_text()):
            pool.append(
                {"instruction": row["instruction"], "input": row.get("input", ""), "output": row["output"]}
            )
    gpteacher = json.loads(
        (data_dir / "gpteacher_toolformer/toolformer-dedupe-only-dataset.json").read_text()
    )
    pool += [
        {"instruction": r["instruction"], "input": r["input"], "output": r["response"]} for r in gpteacher
    ]
    return pool


def edit_words(text: str, rng: random.Random, share: float) -> str:
    words = text.split()
    for _ in range(max(1, int(len(words) * share))):
        if not words:
            break
        i = rng.randrange(len(words))
        op = rng.random()
        if op < 0.4:
            words[i] = rng.choice(words)
        elif op < 0.7:
            del words[i]
        else:
            words.insert(i, rng.choice(["very", "the", "also", "indeed", "then"]))
    return " ".join(words)


def build(path: Path, size: int, pool: list[dict[str, str]], seed: int = 0) -> None:
    """Mostly distinct records (each source record with a numbered variant of its instruction),
    5% exact copies and 5% near copies with 5-15% of words edited."""
    rng = random.Random(seed)
    made: list[dict[str, str]] = []
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(size):
            roll = rng.random()
            if made and roll < 0.05:
                row = dict(rng.choice(made))
            elif made and roll < 0.10:
                base = rng.choice(made)
                row = {**base, "output": edit_words(base["output"], rng, rng.uniform(0.05, 0.15))}
            else:
                base = pool[i % len(pool)]
                row = {**base, "instruction": f"{base['instruction']} (#{i})"}
                if len(made) < 50_000:
                    made.append(row)
                else:
                    made[rng.randrange(len(made))] = row
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its descendants (worker processes included)."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def run(data: Path, out: Path, workers: int | None) -> dict[str, Any]:
    """Run the CLI, sampling the memory of its whole process tree every 0.2 s."""
    command = [sys.executable, "-m", "curata.cli", "run", str(data), "-o", str(out), "--quiet"]
    if workers:
        command += ["--workers", str(workers)]
    start = time.perf_counter()
    proc = subprocess.Popen(command)
    watched = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess):
            peak = max(peak, tree_rss(watched))
        time.sleep(0.2)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"curata run failed on {data} (exit {proc.returncode})")
    return {
        "seconds": seconds,
        "peak_rss_gib": peak / 2**30,
        "summary": json.loads((out / "summary.json").read_text()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=Path("bench-out/end_to_end"))
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    if not args.data_dir.is_dir():
        print(f"data directory not found: {args.data_dir} (pass --data-dir)", file=sys.stderr)
        return 1
    args.work.mkdir(parents=True, exist_ok=True)
    pool = load_pool(args.data_dir)
    results = {}
    for size in args.sizes:
        data = args.work / f"records-{size}.jsonl"
        if not data.exists():
            build(data, size, pool)
        results[size] = run(data, args.work / f"out-{size}", args.workers)
    print("| records | seconds | records/s | peak RSS (GiB) | kept | rejected |")
    print("| --- | --- | --- | --- | --- | --- |")
    for size, r in results.items():
        totals = r["summary"]["totals"]
        print(
            f"| {size:,} | {r['seconds']:.1f} | {size / r['seconds']:,.0f} | {r['peak_rss_gib']:.2f} | "
            f"{totals['kept']:,} | {totals['rejected']:,} |"
        )
    print()
    stages = [s["name"] for s in next(iter(results.values()))["summary"]["stages"]]
    print("| stage | " + " | ".join(f"{size:,}" for size in results) + " |")
    print("| --- |" + " --- |" * len(results))
    for name in stages:
        cells = []
        for r in results.values():
            seconds = next(s["seconds"] for s in r["summary"]["stages"] if s["name"] == name)
            cells.append(f"{seconds:.1f}s")
        print(f"| {name} | " + " | ".join(cells) + " |")
    if len(results) > 1:
        sizes = sorted(results)
        small, large = sizes[0], sizes[-1]
        ratio = results[large]["seconds"] / results[small]["seconds"]
        print(
            f"\nscaling: {large:,} records took {ratio:.1f}x the time of {small:,} "
            f"({large / small:.0f}x the records; near-linear target: at most {1.2 * large / small:.0f}x)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
