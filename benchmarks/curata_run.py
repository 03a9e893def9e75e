"""Run `curata run` in a subprocess the way the benchmarks do: offline, quiet, one recipe file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_recipe(records: Path, out: Path, recipe: Path) -> None:
    command = ["run", str(records), "-o", str(out), "--recipe", str(recipe), "-q"]
    subprocess.run(
        [sys.executable, "-m", "curata.cli", *command],
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
    )
