"""The local engine: ingest to parts, row stages in parallel worker processes, dataset stages in
the main process. Every part of every stage is a file written atomically, and a stage's
`_done.json` is written last, so a relaunch after a crash (even SIGKILL) picks up where it stopped.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from curata import faults
from curata.engines.store import Part, PartStore, StoreView
from curata.errors import CurataError
from curata.ingest import BadLine, IngestOptions, InputSummary, ingest
from curata.inputs import InputFile
from curata.pipeline import Plan, PlannedStage
from curata.progress import Reporter, Task
from curata.stages.base import DatasetStage, Finding, RowStage, StageKind
from curata.workdir import DONE, RunDir, atomic_open, read_json, write_json, write_parquet

# Below this many rows, worker processes cost more than they save.
INLINE_ROWS = 5_000


@dataclass
class IngestInfo:
    parts: list[Part]
    inputs: list[dict[str, Any]]
    bad_lines: int
    seconds: float
    cached: bool = False

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.parts)


@dataclass
class StageRun:
    """What a stage did: its timing, output summary and dataset-level findings."""

    name: str
    kind: str
    key: str
    seconds: float
    rows: int
    cached: bool
    summary: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "seconds": round(self.seconds, 3),
            "rows": self.rows,
            "cached": self.cached,
        }


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class LocalEngine:
    def __init__(self, run: RunDir, plan: Plan, reporter: Reporter, workers: int | None = None) -> None:
        self.run = run
        self.plan = plan
        self.reporter = reporter
        self.workers = workers or default_workers()

    # -- ingest -------------------------------------------------------------------------------
    def ingest(self, inputs: Sequence[InputFile], options: IngestOptions) -> IngestInfo:
        done = self.run.ingest / DONE
        if done.exists():
            info = read_json(done)
            return IngestInfo(
                [Part(*p) for p in info["parts"]],
                info["inputs"],
                info["bad_lines"],
                info["seconds"],
                cached=True,
            )
        if self.run.ingest.exists():
            for stale in self.run.ingest.iterdir():
                stale.unlink()
        self.run.ingest.mkdir(parents=True, exist_ok=True)
        parts: list[Part] = []
        bad_count = 0
        start = time.perf_counter()
        task = self.reporter.task("read", None)

        def emit(batch: pa.RecordBatch) -> None:
            index = len(parts)
            write_parquet(self.run.ingest_part(index), pa.Table.from_batches([batch]))
            faults.reached("ingest-part")
            first = parts[-1].start + parts[-1].rows if parts else 0
            parts.append(Part(index, first, batch.num_rows))

        with atomic_open(self.run.ingest_bad_lines, "wb") as bad_handle:

            def report_bad(bad: BadLine) -> None:
                nonlocal bad_count
                bad_count += 1
                bad_handle.write(orjson.dumps(bad.to_json()) + b"\n")

            summaries: list[InputSummary] = ingest(inputs, options, emit, report_bad, task.advance)
        task.finish()
        seconds = time.perf_counter() - start
        inputs_json = [s.to_json() for s in summaries]
        write_json(
            done,
            {
                "parts": [[p.index, p.start, p.rows] for p in parts],
                "inputs": inputs_json,
                "bad_lines": bad_count,
                "seconds": seconds,
            },
        )
        for summary in summaries:
            if summary.bad_lines:
                self.reporter.message(
                    f"{summary.path}: {summary.bad_lines} bad line(s) set aside in bad_lines.jsonl"
                )
        return IngestInfo(parts, inputs_json, bad_count, seconds)

    # -- stages -------------------------------------------------------------------------------
    def execute(self, info: IngestInfo) -> list[StageRun]:
        self.run.remove_stale_stages({p.key for p in self.plan.stages})
        store = PartStore(self.run, info.parts, self.plan.producers)
        runs: list[StageRun] = []
        for group in self.plan.row_groups():
            if group[0].stage.kind is StageKind.ROW:
                runs.extend(self.run_row_group(group, store))
            else:
                runs.append(self.run_dataset_stage(group[0], store))
        return runs

    def finished(self, planned: PlannedStage) -> dict[str, Any] | None:
        done = self.run.stage_dir(planned.key) / DONE
        return dict(read_json(done)) if done.exists() else None

    def run_dataset_stage(self, planned: PlannedStage, store: PartStore) -> StageRun:
        stage = planned.stage
        assert isinstance(stage, DatasetStage)
        previous = self.finished(planned)
        if previous is not None:
            return StageRun(
                stage.name,
                stage.kind,
                planned.key,
                previous["seconds"],
                store.n_rows,
                True,
                previous.get("summary", {}),
                previous.get("findings", []),
            )
        task = self.reporter.task(stage.name, store.n_rows)
        start = time.perf_counter()
        result = stage.analyse(StoreView(store), task.advance)
        columns = checked_columns(planned, result.columns, store.n_rows)
        for part in store.parts:
            sliced = pa.table({name: col.slice(part.start, part.rows) for name, col in columns.items()})
            write_parquet(self.run.stage_part(planned.key, part.index), sliced)
            faults.reached("dataset-part")
        task.finish()
        return self.finish_dataset_stage(planned, store, start, result.summary, result.findings)

    def finish_dataset_stage(
        self,
        planned: PlannedStage,
        store: PartStore,
        start: float,
        summary: dict[str, Any],
        findings: list[Finding],
    ) -> StageRun:
        """Mark a dataset stage done (its parts are written) and say what it did."""
        seconds = time.perf_counter() - start
        finding_json = [f.to_json() for f in findings]
        write_json(
            self.run.stage_dir(planned.key) / DONE,
            {"seconds": seconds, "summary": summary, "findings": finding_json},
        )
        return StageRun(
            planned.name, planned.stage.kind, planned.key, seconds, store.n_rows, False, summary, finding_json
        )

    def run_row_group(self, group: list[PlannedStage], store: PartStore) -> list[StageRun]:
        pending_stages = [p for p in group if self.finished(p) is None]
        runs: dict[str, StageRun] = {}
        for planned in group:
            previous = self.finished(planned)
            if previous is not None:
                runs[planned.key] = StageRun(
                    planned.name, "row", planned.key, previous["seconds"], store.n_rows, True
                )
        if pending_stages:
            seconds = self.compute_row_parts(pending_stages, store)
            for planned in pending_stages:
                write_json(self.run.stage_dir(planned.key) / DONE, {"seconds": seconds[planned.key]})
                runs[planned.key] = StageRun(
                    planned.name, "row", planned.key, seconds[planned.key], store.n_rows, False
                )
        return [runs[p.key] for p in group]

    def pending_parts(self, group: list[PlannedStage], store: PartStore, task: Task) -> list[Part]:
        """Parts some stage of the group has not written yet; finished ones count as progress."""
        todo = []
        for part in store.parts:
            if all(self.run.stage_part(p.key, part.index).exists() for p in group):
                task.advance(part.rows)
            else:
                todo.append(part)
        return todo

    def compute_row_parts(self, group: list[PlannedStage], store: PartStore) -> dict[str, float]:
        task = self.reporter.task("+".join(p.name for p in group), store.n_rows)
        seconds = dict.fromkeys((p.key for p in group), 0.0)
        todo = self.pending_parts(group, store, task)
        job = RowJob(self.run.out, store.parts, store.producers, group)
        rows_todo = sum(p.rows for p in todo)
        if self.workers <= 1 or rows_todo < INLINE_ROWS or len(todo) < 2:
            job.setup()
            for part in todo:
                self.collect(job.run_part(part.index), seconds, task)
        else:
            context = multiprocessing.get_context("forkserver")
            workers = min(self.workers, len(todo))
            with ProcessPoolExecutor(
                workers, mp_context=context, initializer=init_worker, initargs=(job, os.getpid())
            ) as pool:
                queue = list(reversed(todo))
                running: set[Future[tuple[int, int, dict[str, float]]]] = set()
                while queue or running:
                    while queue and len(running) < 2 * workers:
                        running.add(pool.submit(run_worker_part, queue.pop().index))
                    finished, running = wait(running, return_when=FIRST_COMPLETED)
                    for future in finished:
                        self.collect(future.result(), seconds, task)
        task.finish()
        return seconds

    @staticmethod
    def collect(result: tuple[int, int, dict[str, float]], seconds: dict[str, float], task: Any) -> None:
        _, rows, timings = result
        for key, value in timings.items():
            seconds[key] += value
        task.advance(rows)


def checked_columns(planned: PlannedStage, columns: dict[str, pa.Array], rows: int) -> dict[str, pa.Array]:
    """A stage's output, checked against what it declared: a bug there must fail loudly here."""
    declared = planned.stage.writes()
    if set(columns) != set(declared):
        missing = sorted(set(declared) - set(columns))
        extra = sorted(set(columns) - set(declared))
        raise CurataError(
            f"stage '{planned.name}' returned columns not matching its declaration "
            f"(missing {missing}, undeclared {extra})"
        )
    out: dict[str, pa.Array] = {}
    for name, dtype in declared.items():
        col = columns[name]
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        if len(col) != rows:
            raise CurataError(
                f"stage '{planned.name}' returned {len(col)} values of '{name}' for {rows} rows"
            )
        out[name] = col if col.type == dtype else col.cast(dtype)
    return out


class RowJob:
    """Everything a worker needs to compute a group of row stages on any part."""

    def __init__(
        self, out: Any, parts: Sequence[Part], producers: dict[str, str], group: list[PlannedStage]
    ) -> None:
        self.out = out
        self.parts = tuple(parts)
        self.producers = producers
        self.group = group

    def setup(self) -> None:
        self.run = RunDir(self.out)
        self.store = PartStore(self.run, self.parts, self.producers)
        for planned in self.group:
            assert isinstance(planned.stage, RowStage)
            planned.stage.setup()

    def run_part(self, index: int) -> tuple[int, int, dict[str, float]]:
        part = self.parts[index]
        table: pa.Table | None = None
        timings: dict[str, float] = {}
        for planned in self.group:
            stage = planned.stage
            assert isinstance(stage, RowStage)
            path = self.run.stage_part(planned.key, index)
            reads = sorted(stage.reads())
            if path.exists():
                out = pq.read_table(path)
                timings[planned.key] = 0.0
            else:
                inputs = self.inputs(index, reads, table)
                start = time.perf_counter()
                columns = checked_columns(planned, stage.process(inputs), part.rows)
                timings[planned.key] = time.perf_counter() - start
                faults.reached("row-batch")
                out = pa.table(columns)
                write_parquet(path, out)
            table = out if table is None else merge(table, out)
        return index, part.rows, timings

    def inputs(self, index: int, reads: list[str], produced: pa.Table | None) -> pa.Table:
        """Columns from this group's earlier stages come from memory, the rest from the store."""
        here = set(produced.column_names) if produced is not None else set()
        stored = [c for c in reads if c not in here]
        table = self.store.read_part(index, stored) if stored else None
        if produced is not None:
            table = (
                merge(table, produced.select([c for c in reads if c in here]))
                if table is not None
                else produced.select([c for c in reads if c in here])
            )
        if table is None:
            table = self.store.read_part(index, ["_row"])
        return table


def merge(left: pa.Table, right: pa.Table) -> pa.Table:
    for name in right.column_names:
        left = left.append_column(name, right.column(name))
    return left


WORKER_JOB: RowJob | None = None


def init_worker(job: RowJob, parent: int) -> None:
    global WORKER_JOB  # noqa: PLW0603 - one job per worker process, set once by the pool
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    threading.Thread(target=exit_with_parent, args=(parent,), daemon=True).start()
    job.setup()
    WORKER_JOB = job


def exit_with_parent(parent: int) -> None:
    """A worker must not outlive a killed run (it would hold memory and files forever)."""
    while True:
        time.sleep(1.0)
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            os._exit(1)


def run_worker_part(index: int) -> tuple[int, int, dict[str, float]]:
    assert WORKER_JOB is not None
    return WORKER_JOB.run_part(index)
