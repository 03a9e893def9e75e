"""Run `curata run` in one process with the engine's stage clock reading CPU time, not wall time.

On a shared machine a stage's wall time says as much about the other processes as about the stage.
With every row stage computed inline (`--workers 1`, which this forces) and the local engine's
clock switched to `time.process_time`, the per-stage `seconds` in the run's `summary.json` are the
CPU seconds each stage used, whatever the load (`whole run` stays wall time).

    python benchmarks/cpu_clock.py run data.jsonl -o out/ --quiet
"""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import curata.engines.local as local_engine
from curata.cli import main

if __name__ == "__main__":
    local_engine.time = SimpleNamespace(perf_counter=time.process_time, sleep=time.sleep)  # type: ignore[assignment,attr-defined]
    args = sys.argv[1:]
    if "--workers" in args:
        i = args.index("--workers")
        del args[i : i + 2]
    sys.argv = [sys.argv[0], *args, "--workers", "1"]
    main()
