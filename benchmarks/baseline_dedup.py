"""The same exact-dedup job run by curata and by datatrove on the same data, in the same run.

The job: read alpaca JSONL shards, normalise each record's conversation (curata's comparison
normalisation: case, whitespace, punctuation, NFKC), hash it, keep one record per hash, write the
kept records and the removed ones. Both tools get the same shards and two workers.

- curata: `curata run` with a recipe of `normalize`, `exact_dedup`, `decide` (it also writes
  findings, signals.parquet and the report, which datatrove does not).
- datatrove: `JsonlReader` (adapter computing the same normalised text) -> `ExactDedupSignature`,
  then `ExactFindDedups`, then `JsonlReader` -> `ExactDedupFilter` (removed records to an
  exclusion `JsonlWriter`) -> `JsonlWriter`, on `LocalPipelineExecutor`s.

Both duplicate counts are printed: they must agree, or the jobs are not the same.

    .venv/bin/python benchmarks/baseline_dedup.py --n 300000 [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RECIPE = """name: exact-only
stages:
  - normalize
  - exact_dedup:
      key: conversation
  - decide:
      actions:
        exact_duplicate: drop
"""


def shard(source: Path, folder: Path, shards: int) -> list[Path]:
    """Split a JSONL file into `shards` files (line i goes to shard i % shards)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"shard-{i}.jsonl" for i in range(shards)]
    handles = [open(p, "w", encoding="utf-8") for p in paths]  # noqa: SIM115
    try:
        with open(source, encoding="utf-8") as lines:
            for i, line in enumerate(lines):
                handles[i % shards].write(line)
    finally:
        for handle in handles:
            handle.close()
    return paths


def run_curata(shards: list[Path], work: Path, workers: int) -> dict[str, Any]:
    recipe = work / "exact.yaml"
    recipe.write_text(RECIPE)
    out = work / "curata-out"
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "curata.cli", "run", *map(str, shards), "-o", str(out)]
    command += ["--recipe", str(recipe), "--quiet", "--workers", str(workers)]
    start = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - start
    summary = json.loads((out / "summary.json").read_text())
    stages = {s["name"]: s["seconds"] for s in summary["stages"]}
    return {
        "seconds": seconds,
        "removed": summary["stage_summaries"]["exact_dedup"]["duplicates"],
        "kept": summary["totals"]["kept"],
        "dedup_seconds": stages["normalize"] + stages["exact_dedup"],
    }


def conversation_text(data: dict[str, Any]) -> str:
    """curata's conversation key for an alpaca record: the normalised turns joined by spaces."""
    from curata.formats.alpaca import prompt_with_input
    from curata.normalize import normalize_for_comparison

    turns = [prompt_with_input(data["instruction"], data.get("input") or ""), data["output"]]
    return " ".join(t for t in (normalize_for_comparison(x) for x in turns) if t)


def datatrove_adapter(self: Any, data: dict[str, Any], path: str, id_in_file: int | str) -> dict[str, Any]:
    return {"text": conversation_text(data), "id": f"{path}:{id_in_file}", "metadata": {"record": data}}


def document_text(doc: Any) -> bytes:
    # Bytes: datatrove reads the getter's return annotation, a string under postponed annotations.
    return str(doc.text).encode("utf-8")


def run_datatrove(shards: list[Path], work: Path, workers: int) -> dict[str, Any]:
    from datatrove.executor.local import LocalPipelineExecutor
    from datatrove.pipeline.dedup.exact_dedup import (
        ExactDedupConfig,
        ExactDedupFilter,
        ExactDedupSignature,
        ExactFindDedups,
    )
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    base = work / "datatrove"
    shutil.rmtree(base, ignore_errors=True)
    folder = str(shards[0].parent)
    config = ExactDedupConfig(content_getter=document_text)

    def reader() -> Any:
        return JsonlReader(folder, glob_pattern="shard-*.jsonl", adapter=datatrove_adapter)

    tasks = len(shards)
    stages = [
        LocalPipelineExecutor(
            [reader(), ExactDedupSignature(output_folder=str(base / "sigs"), config=config)],
            tasks=tasks,
            workers=workers,
            logging_dir=str(base / "logs1"),
        ),
        LocalPipelineExecutor(
            [
                ExactFindDedups(
                    data_folder=str(base / "sigs"), output_folder=str(base / "dups"), config=config
                )
            ],
            tasks=1,
            logging_dir=str(base / "logs2"),
        ),
        LocalPipelineExecutor(
            [
                reader(),
                ExactDedupFilter(
                    data_folder=str(base / "dups"),
                    config=config,
                    exclusion_writer=JsonlWriter(str(base / "removed")),
                ),
                JsonlWriter(str(base / "kept")),
            ],
            tasks=tasks,
            workers=workers,
            logging_dir=str(base / "logs3"),
        ),
    ]
    start = time.perf_counter()
    for executor in stages:
        executor.run()
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "removed": count_lines(base / "removed"), "kept": count_lines(base / "kept")}


def count_lines(folder: Path) -> int:
    total = 0
    for path in folder.glob("*.jsonl.gz"):
        with gzip.open(path, "rb") as handle:
            total += sum(1 for _ in handle)
    return total


def compare(data: Path, work: Path, workers: int = 2) -> dict[str, dict[str, Any]]:
    """Both tools on the same shards of `data`; returns each tool's figures."""
    work.mkdir(parents=True, exist_ok=True)
    shards = shard(data, work / "shards", workers)
    results = {"curata": run_curata(shards, work, workers)}
    try:
        results["datatrove"] = run_datatrove(shards, work, workers)
    except ImportError as exc:
        results["datatrove"] = {"error": f"datatrove is not installed ({exc})"}
    return results


def print_comparison(records: int, results: dict[str, dict[str, Any]]) -> None:
    print("| tool | seconds | records/s | removed | kept |")
    print("| --- | --- | --- | --- | --- |")
    for tool, r in results.items():
        if "error" in r:
            print(f"| {tool} | {r['error']} | | | |")
            continue
        rate = records / r["seconds"]
        print(f"| {tool} | {r['seconds']:.1f} | {rate:,.0f} | {r['removed']:,} | {r['kept']:,} |")
    ours, theirs = results["curata"], results.get("datatrove", {})
    if "seconds" in theirs:
        print(
            f"\nexact dedup, {records:,} records: datatrove time / curata time = "
            f"{theirs['seconds'] / ours['seconds']:.2f} "
            f"(curata's normalize + exact_dedup stages alone: {ours['dedup_seconds']:.1f}s); "
            f"same duplicates removed: {ours['removed'] == theirs['removed']}"
        )


def main() -> int:
    from end_to_end import records_file

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
    )
    parser.add_argument("--n", type=int, default=300_000)
    parser.add_argument("--work", type=Path, default=Path("bench-out/baseline_dedup"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    data = records_file(args.data_dir, args.work, args.n)
    print_comparison(args.n, compare(data, args.work / f"n{args.n}", args.workers))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
