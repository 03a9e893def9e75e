"""Fault injection: a real `curata run` killed with SIGKILL at 20 random moments (while reading,
inside a stage, mid-batch in a worker, while writing outputs), each time followed by a rerun of
the same command, always ends with the outputs of an uninterrupted run: nothing lost, nothing
duplicated, no partial file taken for a result."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import CONTRACT
from tests.engines.test_resume import assert_same_outputs, command, dataset

KILLS = 20


@pytest.fixture(scope="module")
def small_reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float]:
    base = tmp_path_factory.mktemp("faults")
    data = dataset(base / "in.jsonl", n=6_000)
    out = base / "reference"
    start = time.monotonic()
    subprocess.run(command(data, out), check=True)
    return data, out, time.monotonic() - start


# 20 killed runs plus 20 reruns of the default recipe: over the 300 s default on a busy machine.
@pytest.mark.timeout(900)
def test_twenty_random_sigkills_each_followed_by_a_rerun(
    small_reference: tuple[Path, Path, float], tmp_path: Path
) -> None:
    data, expected, duration = small_reference
    rng = random.Random(20261125)
    killed = 0
    for attempt in range(KILLS):
        out = tmp_path / f"run{attempt}"
        # Some runs are killed twice before they are allowed to finish.
        for _ in range(1 + attempt % 2):
            proc = subprocess.Popen(command(data, out))
            time.sleep(rng.uniform(0.05, duration * 0.95))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                killed += 1
            proc.wait()
            if proc.returncode == -signal.SIGKILL and (out / "summary.json").exists():
                # Killed after publishing: the summary is written last, so the run is complete.
                assert_same_outputs(expected, out)
        subprocess.run(command(data, out), check=True)
        assert_same_outputs(expected, out)
        leftovers = [p.name for p in out.iterdir() if p.name not in (*CONTRACT, ".curata")]
        assert leftovers == [], leftovers
    assert killed >= KILLS
