"""End-to-end throughput of `curata run` (default recipe, no LLM) at several sizes.

Builds alpaca-style records from real public text (../shared/data: GSM8K, the LLaMA-Factory alpaca
demo, LIMA, GPTeacher), with exact and lightly edited copies injected, then runs the real CLI in a
subprocess per size and reports records/s, peak RSS (of the run and its worker processes) and the
time of each stage. The scaling check compares the largest size with the smallest.

    .venv/bin/python benchmarks/end_to_end.py --sizes 100000 300000 1000000 --baseline-n 300000
    nice .venv/bin/python benchmarks/end_to_end.py --n 5000000      # out of core: peak RSS under 8 GiB
    nice .venv/bin/python benchmarks/end_to_end.py --n 5000000 --short-records   # the same, quickly

Exit code 1 when the scaling check (largest / smallest time at most 1.2x the size ratio) or the
peak-RSS limit fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
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


def build_short(path: Path, size: int, seed: int = 0) -> None:
    """Short synthetic records (about 90 bytes) with the same shape of duplicates: 5% exact copies
    and 5% copies of a prompt with another answer (conflicts). What a dataset stage, the outputs
    and the report hold per record (ids, digests, scores, decisions) does not depend on the text
    length, so this measures the memory of 5M records without hours of text processing."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as handle:
        for i in range(size):
            roll = rng.random()
            k = rng.randrange(i) if i and roll < 0.10 else i
            answer = k * 7 + 1 if roll < 0.05 or roll >= 0.10 else k * 7 + 2
            handle.write(
                f'{{"instruction": "Question {k}: what is {k} times seven, plus one?", '
                f'"input": "", "output": "It is {answer}."}}\n'
            )


def tree_rss(process: psutil.Process) -> int:
    """Resident memory of a process and all its descendants (worker processes included)."""
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def run(
    data: Path, out: Path, workers: int | None, engine: str = "local", cpu_clock: bool = False
) -> dict[str, Any]:
    """Run the CLI, sampling the memory of its whole process tree every 0.2 s."""
    cli = [str(Path(__file__).with_name("cpu_clock.py"))] if cpu_clock else ["-m", "curata.cli"]
    command = [sys.executable, *cli, "run", str(data), "-o", str(out), "--quiet"]
    command += ["--engine", engine]
    if workers:
        command += ["--workers", str(workers)]
    start = time.perf_counter()
    proc = subprocess.Popen(command)
    watched = psutil.Process(proc.pid)
    peak = 0
    last_note = start
    while proc.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess):
            peak = max(peak, tree_rss(watched))
        time.sleep(0.2)
        if time.perf_counter() - last_note > 60:
            # Long runs leave a trail, so a run cut short still says how far it got.
            last_note = time.perf_counter()
            print(
                f"  {last_note - start:.0f}s: peak RSS so far {peak / 2**30:.2f} GiB, at {where(out)}, "
                f"load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"curata run failed on {data} (exit {proc.returncode})")
    return {
        "seconds": seconds,
        "peak_rss_gib": peak / 2**30,
        "summary": json.loads((out / "summary.json").read_text()),
    }


def where(out: Path) -> str:
    """The stage a run is in, from its work area (the newest stage folder without `_done.json`)."""
    stages = out / ".curata" / "stages"
    if (out / ".curata" / "staging").exists():
        return "writing outputs"
    running = [d.name for d in sorted(stages.glob("*")) if not (d / "_done.json").exists()]
    if running:
        return running[0]
    return "reading" if not (out / ".curata" / "ingest" / "_done.json").exists() else "between stages"


def records_file(data_dir: Path, work: Path, size: int, short: bool = False) -> Path:
    """The benchmark input of `size` records, built once and reused."""
    work.mkdir(parents=True, exist_ok=True)
    data = work / f"records-{size}{'-short' if short else ''}.jsonl"
    if not data.exists():
        partial = data.with_suffix(".partial")
        if short:
            build_short(partial, size)
        else:
            build(partial, size, load_pool(data_dir))
        partial.replace(data)
    return data


def print_tables(results: dict[int, dict[str, Any]], max_rss_gib: float) -> bool:
    """The size table, the per-stage table and the checks; False when a check fails."""
    ok = True
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
    print("| stage (seconds) | " + " | ".join(f"{size:,}" for size in results) + " |")
    print("| --- |" + " --- |" * len(results))
    for name in [*stages, "whole run"]:
        cells = []
        for r in results.values():
            summary = r["summary"]
            if name == "whole run":
                seconds = summary["total_seconds"]
            else:
                seconds = next(s["seconds"] for s in summary["stages"] if s["name"] == name)
            cells.append(f"{seconds:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\n(row stage seconds are summed over the worker processes; the rest is wall time.)")
    if len(results) > 1:
        sizes = sorted(results)
        small, large = sizes[0], sizes[-1]
        ratio = results[large]["seconds"] / results[small]["seconds"]
        limit = 1.2 * large / small
        ok &= ratio <= limit
        print(
            f"\nscaling: {large:,} records took {ratio:.1f}x the time of {small:,} "
            f"({large / small:.0f}x the records; near-linear target: at most {limit:.0f}x): "
            + ("PASS" if ratio <= limit else "FAIL")
        )
    for size, r in results.items():
        if r["peak_rss_gib"] > max_rss_gib:
            ok = False
            print(f"{size:,} records: peak RSS {r['peak_rss_gib']:.2f} GiB is over {max_rss_gib} GiB: FAIL")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000, 1_000_000])
    parser.add_argument("--n", type=int, default=None, help="one size only (e.g. 5000000, out of core)")
    parser.add_argument("--work", type=Path, default=Path("bench-out/end_to_end"))
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--engine", default="local", choices=["local", "ray"])
    parser.add_argument("--max-rss-gib", type=float, default=8.0, help="fail above this peak RSS")
    parser.add_argument(
        "--baseline-n",
        type=int,
        default=0,
        help="also run the same exact-dedup job with datatrove on this many records (0: skip)",
    )
    parser.add_argument(
        "--short-records",
        action="store_true",
        help="short synthetic records: memory per record at large sizes, quickly (see build_short)",
    )
    parser.add_argument(
        "--cpu-clock",
        action="store_true",
        help="one process, per-stage CPU seconds instead of wall seconds (see cpu_clock.py)",
    )
    parser.add_argument("--keep-outputs", action="store_true", help="keep each size's run directory")
    args = parser.parse_args()
    if not args.data_dir.is_dir():
        print(f"data directory not found: {args.data_dir} (pass --data-dir)", file=sys.stderr)
        return 1
    sizes = [args.n] if args.n else args.sizes
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    results = {}
    for size in sizes:
        data = records_file(args.data_dir, args.work, size, args.short_records)
        out = args.work / f"out-{size}-{args.engine}"
        shutil.rmtree(out, ignore_errors=True)
        results[size] = run(data, out, args.workers, args.engine, args.cpu_clock)
        print(
            f"{size:,} records: {results[size]['seconds']:.1f}s, "
            f"peak RSS {results[size]['peak_rss_gib']:.2f} GiB, "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            flush=True,
        )
        if not args.keep_outputs:
            shutil.rmtree(out, ignore_errors=True)
    print()
    ok = print_tables(results, args.max_rss_gib)
    if args.baseline_n:
        from baseline_dedup import compare, print_comparison

        print()
        data = records_file(args.data_dir, args.work, args.baseline_n)
        print_comparison(args.baseline_n, compare(data, args.work / f"baseline-{args.baseline_n}"))
    (args.work / "results.json").write_text(
        json.dumps({str(k): {**v, "summary": v["summary"]["stages"]} for k, v in results.items()}, indent=1)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
