"""A real `curata run` killed with SIGKILL and started again gives the same outputs as a run that
was never interrupted: nothing lost, nothing duplicated."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import write_jsonl

COMPARED = ("curated.jsonl", "rejected.jsonl", "findings.jsonl", "bad_lines.jsonl")


def dataset(path: Path, n: int = 40_000) -> Path:
    rows = []
    for i in range(n):
        output = "" if i % 97 == 0 else f"Answer {i % 5000}: " + "some words " * (i % 23)
        rows.append({"instruction": f"Question {i % 5000}?", "input": "", "output": output, "n": i})
    write_jsonl(path, rows)
    with open(path, "a") as handle:
        handle.write("{not json\n")
    return path


def command(data: Path, out: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "curata.cli",
        "run",
        str(data),
        "-o",
        str(out),
        "--quiet",
        "--workers",
        "2",
        "--batch-rows",
        "1000",
    ]


def assert_same_outputs(expected: Path, actual: Path) -> None:
    for name in COMPARED:
        assert (expected / name).read_bytes() == (actual / name).read_bytes(), name
    assert pq.read_table(expected / "signals.parquet").equals(pq.read_table(actual / "signals.parquet"))
    a, b = (json.loads((d / "summary.json").read_text()) for d in (expected, actual))
    assert a["totals"] == b["totals"] and a["checks"] == b["checks"]


def first_stage_dir(out: Path) -> Path | None:
    stages = out / ".curata" / "stages"
    found = sorted(stages.glob("00-*")) if stages.exists() else []
    return found[0] if found else None


KILL_POINTS: dict[str, Callable[[Path], bool]] = {
    "while reading": lambda out: (out / ".curata" / "ingest" / "part-00005.parquet").exists(),
    "inside a row stage": lambda out: (
        (d := first_stage_dir(out)) is not None and len(list(d.glob("part-*.parquet"))) >= 4
    ),
    "while writing outputs": lambda out: (out / ".curata" / "staging" / "curated.jsonl").exists(),
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("resume")
    data = dataset(base / "in.jsonl")
    out = base / "reference"
    subprocess.run(command(data, out), check=True)
    return data, out


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_rerun_gives_identical_outputs(
    reference: tuple[Path, Path], tmp_path: Path, point: str
) -> None:
    data, expected = reference
    out = tmp_path / "out"
    proc = subprocess.Popen(command(data, out))
    deadline = time.monotonic() + 120
    while not KILL_POINTS[point](out):
        assert proc.poll() is None, f"the run finished before reaching the kill point ({point})"
        assert time.monotonic() < deadline
        time.sleep(0.002)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists()
    subprocess.run(command(data, out), check=True)
    assert_same_outputs(expected, out)
    summary = json.loads((out / "summary.json").read_text())
    if point != "while reading":
        assert any(s["cached"] for s in summary["stages"]), "the rerun should resume finished work"
