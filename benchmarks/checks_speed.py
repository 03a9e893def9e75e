"""Per-record check throughput on real instruction data (the LLaMA-Factory alpaca demo and LIMA,
repeated to `--n` records), one check at a time, in one process.

    .venv/bin/python benchmarks/checks_speed.py [--data-dir ../shared/data] [--n 20000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import curata.checks  # noqa: F401 - registers the checks
from curata.checks.registry import CHECKS
from curata.records import Record, Role, Turn


def load(data_dir: Path, n: int) -> list[Record]:
    rows = json.loads((data_dir / "llamafactory_demo" / "alpaca_en_demo.json").read_text())
    rows += json.loads((data_dir / "lima" / "lima.json").read_text())
    records = []
    for i in range(n):
        row = rows[i % len(rows)]
        prompt = row["instruction"] + ("\n\n" + row["input"] if row.get("input") else "")
        turns = (Turn(Role.USER, prompt), Turn(Role.ASSISTANT, row["output"]))
        records.append(Record(str(i), turns, format="alpaca"))
    return records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
    parser.add_argument("--n", type=int, default=20_000)
    args = parser.parse_args()
    records = load(args.data_dir, args.n)
    chars = sum(len(r.conversation_text) for r in records) / len(records)
    print(f"{len(records):,} records, {chars:,.0f} characters each on average")
    total = 0.0
    for code, info in sorted(CHECKS.items()):
        if info.build is None:
            continue
        check = info.build(info.settings_model())
        start = time.perf_counter()
        flagged = sum(1 for r in records if (s := check(r)) is not None and s.value >= info.default_threshold)
        seconds = time.perf_counter() - start
        total += seconds
        print(f"{code:20s} {len(records) / seconds:>10,.0f} records/s   {flagged:>6,} flagged")
    print(f"{'all checks':20s} {len(records) / total:>10,.0f} records/s (one core)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
