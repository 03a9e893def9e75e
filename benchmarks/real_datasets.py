"""Run `curata run` (default recipe) on every real dataset in ../shared/data and print a table.

.venv/bin/python benchmarks/real_datasets.py [--data-dir ../shared/data] [--out bench-out/real]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

DATASETS = [
    "lima/lima.json",
    "llamafactory_demo/alpaca_en_demo.json",
    "llamafactory_demo/identity.json",
    "llamafactory_demo/kto_en_demo.json",
    "llamafactory_demo/dpo_en_demo.json",
    "llamafactory_demo/glaive_toolcall_en_demo.json",
    "self_instruct/human_eval_predictions",
    "cleanlab_label_errors/imdb_test_subset_with_label_errors.jsonl",
    "gpteacher_toolformer/toolformer-dedupe-only-dataset.json",
    "gsm8k_alpaca/gsm_8k_train.json",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
    parser.add_argument("--out", type=Path, default=Path("bench-out/real"))
    args = parser.parse_args()
    if not args.data_dir.is_dir():
        print(f"data directory not found: {args.data_dir} (pass --data-dir)", file=sys.stderr)
        return 1
    print("| dataset | format | records | kept | rejected | bad lines | seconds | rejected by reason |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    failures = 0
    for rel in DATASETS:
        out = args.out / rel.replace("/", "__")
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "curata.cli", "run", str(args.data_dir / rel), "-o", str(out), "--quiet"],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            failures += 1
            print(f"| {rel} | FAILED ({proc.returncode}): {proc.stderr.strip()[:200]} |")
            continue
        summary = json.loads((out / "summary.json").read_text())
        totals = summary["totals"]
        formats = ", ".join(sorted({i["format"] or "-" for i in summary["inputs"]}))
        reasons = ", ".join(f"{k} {v}" for k, v in summary["rejected_by_reason"].items()) or "-"
        print(
            f"| {rel} | {formats} | {totals['records']:,} | {totals['kept']:,} | {totals['rejected']:,} | "
            f"{totals['bad_lines']} | {seconds:.1f} | {reasons} |"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
