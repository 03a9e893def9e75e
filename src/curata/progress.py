"""Progress of long work: rich bars (count, rate, ETA) on a terminal, plain lines elsewhere."""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Task(ABC):
    @abstractmethod
    def advance(self, n: int) -> None: ...

    @abstractmethod
    def finish(self) -> None: ...


class Reporter(ABC):
    """Opens one task per stage; used as a context manager around a run."""

    @abstractmethod
    def task(self, name: str, total: int | None, unit: str = "records") -> Task: ...

    @abstractmethod
    def message(self, text: str) -> None: ...

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class RichTask(Task):
    def __init__(self, progress: Progress, task_id: TaskID) -> None:
        self.progress = progress
        self.task_id = task_id

    def advance(self, n: int) -> None:
        self.progress.advance(self.task_id, n)

    def finish(self) -> None:
        task = self.progress.tasks[self.task_id]
        if task.total is None:
            self.progress.update(self.task_id, total=task.completed)
        else:
            self.progress.update(self.task_id, completed=task.total)


class RichReporter(Reporter):
    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("[cyan]{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            refresh_per_second=4,
        )

    def __enter__(self) -> Reporter:
        self.progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.progress.stop()

    def task(self, name: str, total: int | None, unit: str = "records") -> Task:
        task_id = self.progress.add_task(name, total=total, rate="")
        return RateTask(RichTask(self.progress, task_id), self.progress, task_id, unit)

    def message(self, text: str) -> None:
        self.console.print(text)


class RateTask(Task):
    """Keeps the rate column readable (`12,345 records/s`)."""

    def __init__(self, inner: RichTask, progress: Progress, task_id: TaskID, unit: str) -> None:
        self.inner = inner
        self.progress = progress
        self.task_id = task_id
        self.unit = unit

    def advance(self, n: int) -> None:
        self.inner.advance(n)
        speed = self.progress.tasks[self.task_id].speed
        if speed:
            self.progress.update(self.task_id, rate=f"{speed:,.0f} {self.unit}/s")

    def finish(self) -> None:
        self.inner.finish()


class LineTask(Task):
    """Prints a line at most every `interval` seconds and one when done."""

    def __init__(self, name: str, total: int | None, unit: str, interval: float) -> None:
        self.name, self.total, self.unit, self.interval = name, total, unit, interval
        self.done = 0
        self.start = self.last = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.interval:
            self.last = now
            self.emit(now, final=False)

    def emit(self, now: float, final: bool) -> None:
        elapsed = max(now - self.start, 1e-9)
        rate = self.done / elapsed
        of = f"/{self.total:,}" if self.total else ""
        if final:
            tail = f"done in {elapsed:.1f}s"
        elif self.total and rate > 0:
            tail = f"ETA {max(self.total - self.done, 0) / rate:.0f}s"
        else:
            tail = ""
        print(
            f"{self.name}: {self.done:,}{of} {self.unit} ({rate:,.0f}/s) {tail}".rstrip(),
            file=sys.stderr,
            flush=True,
        )

    def finish(self) -> None:
        self.emit(time.monotonic(), final=True)


class LineReporter(Reporter):
    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval

    def task(self, name: str, total: int | None, unit: str = "records") -> Task:
        return LineTask(name, total, unit, self.interval)

    def message(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)


class SilentTask(Task):
    def advance(self, n: int) -> None:
        return None

    def finish(self) -> None:
        return None


class SilentReporter(Reporter):
    def task(self, name: str, total: int | None, unit: str = "records") -> Task:
        return SilentTask()

    def message(self, text: str) -> None:
        return None


def make_reporter(quiet: bool = False) -> Reporter:
    if quiet:
        return SilentReporter()
    console = Console(stderr=True)
    if console.is_terminal:
        return RichReporter(console)
    return LineReporter()
