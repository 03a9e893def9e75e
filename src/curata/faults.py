"""Fault injection for tests: `CURATA_KILL_AT=point:n` makes a run SIGKILL itself (its main process
and the worker that got there) the n-th time one process reaches `point`, so a test can kill a run
at an exact moment that random delays rarely hit (a worker mid-batch, half of a stage's parts
written, half of the contract files published). Unset, `reached` costs one dictionary lookup.

Points: `ingest-part` (after an ingest part is written), `row-batch` (a batch's columns computed,
not yet written), `dataset-part` (after one part of a dataset stage's output is written),
`output-part` (after one part is written to the staged contract files), `publish` (after one
contract file is moved into OUT/).
"""

from __future__ import annotations

import os
import signal
from collections import Counter

KILL_AT = "CURATA_KILL_AT"
RUN_PID = "CURATA_RUN_PID"
POINTS = ("ingest-part", "row-batch", "dataset-part", "output-part", "publish")
_seen: Counter[str] = Counter()


def arm() -> None:
    """In the run's main process: name it, so a worker reaching the point can kill it too."""
    if os.environ.get(KILL_AT):
        os.environ[RUN_PID] = str(os.getpid())


def reached(point: str) -> None:
    spec = os.environ.get(KILL_AT)
    if not spec:
        return
    name, _, count = spec.partition(":")
    if name != point:
        return
    _seen[point] += 1
    if _seen[point] != int(count or 1):
        return
    run = int(os.environ.get(RUN_PID, os.getpid()))
    if run != os.getpid():
        os.kill(run, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
