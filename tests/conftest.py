"""Shared helpers: run the real CLI (in-process or as a subprocess) and read the run contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from curata.cli import app
from curata.workdir import CONTRACT_FILES

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

CONTRACT = CONTRACT_FILES


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


class Run:
    """The contract files of one finished run."""

    def __init__(self, out: Path, result: Any = None) -> None:
        self.out = out
        self.result = result

    @property
    def curated(self) -> list[dict[str, Any]]:
        return read_jsonl(self.out / "curated.jsonl")

    @property
    def rejected(self) -> list[dict[str, Any]]:
        return read_jsonl(self.out / "rejected.jsonl")

    @property
    def findings(self) -> list[dict[str, Any]]:
        return read_jsonl(self.out / "findings.jsonl")

    @property
    def bad_lines(self) -> list[dict[str, Any]]:
        return read_jsonl(self.out / "bad_lines.jsonl")

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads((self.out / "summary.json").read_text())

    @property
    def signals(self) -> Any:
        return pq.read_table(self.out / "signals.parquet")


def cli(args: Sequence[str]) -> Any:
    """Invoke the CLI in-process (fast); returns typer's result with exit_code and output."""
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def cli_subprocess(args: Sequence[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "curata.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        **kwargs,
    )


@pytest.fixture
def run_curata(tmp_path: Path) -> Any:
    """Run `curata run` on inputs and return the contract; fails the test on a non-zero exit."""
    counter = iter(range(1000))

    def go(*inputs: Path | str, extra: Sequence[str] = (), expect: int = 0) -> Run:
        out = tmp_path / f"out{next(counter)}"
        result = cli(["run", *inputs, "-o", out, "--quiet", *extra])
        assert result.exit_code == expect, result.output
        return Run(out, result)

    return go
