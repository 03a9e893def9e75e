"""The Ray engine gives the local engine's outputs on the same input (a local Ray instance)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import write_jsonl
from tests.engines.test_resume import assert_same_outputs, dataset

pytest.importorskip("ray")


def run(data: Path, out: Path, engine: str) -> None:
    subprocess.run(
        [
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
            "--engine",
            engine,
        ],
        check=True,
        timeout=240,
    )


@pytest.mark.timeout(300)
def test_ray_engine_smoke_matches_the_local_engine(tmp_path: Path) -> None:
    rows = [
        {"instruction": f"Question {i % 700}?", "input": "", "output": f"Answer {i % 900}." if i % 50 else ""}
        for i in range(3_000)
    ]
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    run(data, tmp_path / "local", "local")
    run(data, tmp_path / "ray", "ray")
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
    summary = json.loads((tmp_path / "ray" / "summary.json").read_text())
    assert summary["engine"] == "ray" and summary["stage_summaries"]["exact_dedup"]["duplicates"] > 0


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_ray_engine_matches_the_local_engine_on_a_larger_set(tmp_path: Path) -> None:
    data = dataset(tmp_path / "in.jsonl", n=40_000)
    run(data, tmp_path / "local", "local")
    run(data, tmp_path / "ray", "ray")
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
