"""Per-record check throughput on real instruction data, one check at a time, in one process.

Records: the LLaMA-Factory alpaca demo and LIMA repeated to `--n` (default), or with `--e2e` the
mix `end_to_end.py` builds (GSM8K, alpaca demo, LIMA, GPTeacher with copies). Each check runs the
way the `checks` stage runs it: `prepare(records)` per batch of 8,192 records where the check has
one, then one call per record. Times are CPU seconds (`time.process_time`), so a busy machine
changes them less than wall time; a model's one-off load is timed apart.

    .venv/bin/python benchmarks/checks_speed.py [--data-dir ../shared/data] [--n 20000] [--e2e]
        [--save before.json] [--baseline before.json]

`--save` writes the per-check times; `--baseline` prints each check's speed-up against such a file.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import curata.checks  # noqa: F401 - registers the checks
from curata.checks.registry import CHECKS
from curata.records import Record, Role, Turn

BATCH = 8192


def load(data_dir: Path, n: int) -> list[Record]:
    rows = json.loads((data_dir / "llamafactory_demo" / "alpaca_en_demo.json").read_text())
    rows += json.loads((data_dir / "lima" / "lima.json").read_text())
    return [alpaca_record(str(i), rows[i % len(rows)]) for i in range(n)]


def load_e2e(data_dir: Path, n: int) -> list[Record]:
    """The records `end_to_end.py` runs the whole recipe on."""
    sys.path.insert(0, str(Path(__file__).parent))
    from end_to_end import build, load_pool

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "records.jsonl"
        build(path, n, load_pool(data_dir))
        with path.open(encoding="utf-8") as handle:  # not splitlines(): texts hold U+2028
            rows = [json.loads(line) for line in handle]
    return [alpaca_record(str(i), row) for i, row in enumerate(rows)]


def alpaca_record(rid: str, row: dict[str, str]) -> Record:
    prompt = row["instruction"] + ("\n\n" + row["input"] if row.get("input") else "")
    return Record(rid, (Turn(Role.USER, prompt), Turn(Role.ASSISTANT, row["output"])), format="alpaca")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--e2e", action="store_true", help="the end_to_end.py record mix")
    parser.add_argument("--save", type=Path, help="write the per-check CPU seconds here")
    parser.add_argument("--baseline", type=Path, help="print speed-ups against a --save file")
    args = parser.parse_args()
    records = (load_e2e if args.e2e else load)(args.data_dir, args.n)
    baseline = json.loads(args.baseline.read_text()) if args.baseline else {}
    chars = sum(len(r.conversation_text) for r in records) / len(records)
    print(f"{len(records):,} records, {chars:,.0f} characters each on average (CPU seconds)")
    times: dict[str, float] = {}
    for code, info in sorted(CHECKS.items()):
        if info.build is None:
            continue
        check = info.build(info.settings_model())
        start = time.process_time()
        if hasattr(check, "identifier"):  # the model loads on first use, here
            print(f"{'(model load)':20s} {time.process_time() - start:>10.2f} s, once per worker process")
        prepare = getattr(check, "prepare", None)
        flagged = 0
        start = time.process_time()
        for first in range(0, len(records), BATCH):
            batch = records[first : first + BATCH]
            if prepare is not None:
                prepare(batch)
            flagged += sum(
                1 for r in batch if (s := check(r)) is not None and s.value >= info.default_threshold
            )
        times[code] = time.process_time() - start
        speed = len(records) / times[code]
        compared = ratio(code, times, baseline, len(records))
        print(f"{code:20s} {speed:>10,.0f} records/s   {flagged:>6,} flagged{compared}")
    times["all checks"] = sum(times.values())
    speed = len(records) / times["all checks"]
    compared = ratio("all checks", times, baseline, len(records))
    print(f"{'all checks':20s} {speed:>10,.0f} records/s (one core){compared}")
    if args.save:
        per_record = {code: seconds / len(records) for code, seconds in times.items()}
        args.save.write_text(json.dumps(per_record, indent=1))
    return 0


def ratio(code: str, times: dict[str, float], baseline: dict[str, float], n: int) -> str:
    """The speed-up against a `--save` file (CPU seconds per record, so sizes may differ)."""
    if code not in baseline:
        return ""
    return f"   {baseline[code] * n / times[code]:.2f}x the baseline's speed"


if __name__ == "__main__":
    sys.exit(main())
