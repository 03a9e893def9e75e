"""Fault injection: a real `curata run` killed with SIGKILL, then started again with the same
command, always ends with the outputs of an uninterrupted run: nothing lost, nothing duplicated,
no partial file taken for a result.

Two kinds of kill: 20 at random moments spread over the whole run (one random delay in each
twentieth of its duration, the moment's phase recorded), and one at each instrumented point
(`CURATA_KILL_AT`), which random delays rarely hit: a worker mid-batch, half of a dataset stage's
parts written, half of the contract files published."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from curata.faults import KILL_AT
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


def phase(out: Path) -> str:
    """Where a run is, judged from its run directory (as good as a look from outside gets)."""
    work = out / ".curata"
    if (out / "summary.json").exists():
        return "finished"
    if not (work / "ingest" / "_done.json").exists():
        return "reading" if (work / "ingest").exists() else "starting"
    staging = work / "staging"
    if staging.exists() and any(staging.iterdir()):
        return "writing outputs"
    stages = sorted((work / "stages").glob("*")) if (work / "stages").exists() else []
    if any(not (s / "_done.json").exists() for s in stages) or not stages:
        return "inside a stage"
    return "between stages"


def assert_finished_like(expected: Path, out: Path) -> None:
    subprocess.run(command(expected.parent / "in.jsonl", out), check=True)
    assert_same_outputs(expected, out)
    leftovers = [p.name for p in out.iterdir() if p.name not in (*CONTRACT, ".curata")]
    assert leftovers == [], leftovers


@pytest.mark.timeout(900)
def test_twenty_random_sigkills_each_followed_by_a_rerun(
    small_reference: tuple[Path, Path, float], tmp_path: Path
) -> None:
    data, expected, duration = small_reference
    rng = random.Random(20261125)
    # One delay in each twentieth of the run, shuffled: kills cover the whole run.
    slot = duration * 0.95 / KILLS
    delays = [rng.uniform(i * slot, (i + 1) * slot) + 0.05 for i in range(KILLS)]
    rng.shuffle(delays)
    phases: Counter[str] = Counter()
    killed = 0
    for attempt, first_delay in enumerate(delays):
        out = tmp_path / f"run{attempt}"
        delay = first_delay
        for _ in range(4):
            landed = 0
            # Some runs are killed twice before they are allowed to finish.
            for again in range(1 + attempt % 2):
                proc = subprocess.Popen(command(data, out))
                time.sleep(delay if again == 0 else rng.uniform(0.05, delay))
                where = phase(out)
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                    landed += 1
                    phases[where] += 1
                proc.wait()
                if proc.returncode == -signal.SIGKILL and (out / "summary.json").exists():
                    # Killed after publishing: the summary is written last, so the run is complete.
                    assert_same_outputs(expected, out)
            killed += landed
            if landed:
                break
            # The run finished before its kill was due (the machine got faster than when the
            # reference was timed): check it, then start over with the kill sooner.
            assert_same_outputs(expected, out)
            shutil.rmtree(out)
            delay /= 2
        assert_finished_like(expected, out)
    assert killed >= KILLS
    print(f"kills by phase: {dict(phases)}")
    assert len(set(phases) & {"reading", "inside a stage", "between stages", "writing outputs"}) >= 2, phases


# Each point with the occurrence to stop at: well inside the run (6 parts of 1,000 records).
POINTS = {
    "ingest-part": 3,
    "row-batch": 2,
    "dataset-part": 3,
    "output-part": 3,
    "publish": 3,
}


@pytest.mark.parametrize("point", list(POINTS))
def test_sigkill_at_an_instrumented_point_then_rerun(
    small_reference: tuple[Path, Path, float], tmp_path: Path, point: str
) -> None:
    data, expected, _ = small_reference
    out = tmp_path / "out"
    env = {**os.environ, KILL_AT: f"{point}:{POINTS[point]}"}
    proc = subprocess.run(command(data, out), env=env, check=False, timeout=240)
    assert proc.returncode == -signal.SIGKILL, f"the run was not killed at {point}"
    assert not (out / "summary.json").exists()
    if point == "publish":
        published = [n for n in CONTRACT if (out / n).exists()]
        assert published, "the kill should land after some files were published"
    assert_finished_like(expected, out)
