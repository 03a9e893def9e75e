"""The run directory: the contract files in OUT/ and a private work area in OUT/.curata/.

Every file is written under a temporary name and renamed into place, so a file with its final
name is always complete; a stage's `_done.json` is written last, so a relaunch trusts only
finished work. A different input or recipe wipes the work area of an earlier run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from curata.errors import OutputDirError

WORK = ".curata"
CONTRACT_FILES = (
    "curated.jsonl",
    "rejected.jsonl",
    "findings.jsonl",
    "signals.parquet",
    "bad_lines.jsonl",
    "summary.json",
    "report.html",
)
DONE = "_done.json"


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files readable by the owner only; outputs get the usual permissions.
FILE_MODE = 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_open(path: Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temporary file beside `path`, renamed over it only when the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, FILE_MODE)
    try:
        encoding = None if "b" in mode else "utf-8"
        with open(tmp, mode, encoding=encoding) as handle:
            yield handle
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_json(path: Path, value: Any) -> None:
    with atomic_open(path) as handle:
        json.dump(value, handle, ensure_ascii=False, indent=2, allow_nan=False)
        handle.write("\n")


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def write_parquet(path: Path, table: pa.Table) -> None:
    with atomic_open(path, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")


class RunDir:
    """Paths of one run directory."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.work = out / WORK

    @property
    def manifest(self) -> Path:
        return self.work / "manifest.json"

    @property
    def ingest(self) -> Path:
        return self.work / "ingest"

    def ingest_part(self, index: int) -> Path:
        return self.ingest / f"part-{index:05d}.parquet"

    @property
    def ingest_bad_lines(self) -> Path:
        return self.ingest / "bad_lines.jsonl"

    def stage_dir(self, key: str) -> Path:
        return self.work / "stages" / key

    def stage_part(self, key: str, index: int) -> Path:
        return self.stage_dir(key) / f"part-{index:05d}.parquet"

    @property
    def staging(self) -> Path:
        return self.work / "staging"

    def prepare(self, fingerprint: str, command: dict[str, Any] | None = None) -> bool:
        """Make OUT ready for a run with this fingerprint; True when earlier work can be resumed.

        OUT must be new, empty, or a curata run directory: we never delete files we did not write.
        """
        if self.out.exists() and not self.out.is_dir():
            raise OutputDirError("output path exists and is not a directory", path=str(self.out))
        if self.out.exists() and any(self.out.iterdir()) and not self.work.is_dir():
            raise OutputDirError(
                "output directory is not empty and was not written by curata; choose another -o",
                path=str(self.out),
            )
        resumable = False
        if self.manifest.exists():
            try:
                resumable = read_json(self.manifest).get("fingerprint") == fingerprint
            except (OSError, ValueError):
                resumable = False
        # A stale summary would make an unfinished run look finished: it goes first.
        with contextlib.suppress(FileNotFoundError):
            (self.out / "summary.json").unlink()
        if not resumable:
            for name in CONTRACT_FILES:
                with contextlib.suppress(FileNotFoundError):
                    (self.out / name).unlink()
            shutil.rmtree(self.out / "splits", ignore_errors=True)
            if self.work.exists():
                shutil.rmtree(self.work)
        self.work.mkdir(parents=True, exist_ok=True)
        write_json(self.manifest, {"fingerprint": fingerprint, "command": command or {}})
        shutil.rmtree(self.staging, ignore_errors=True)
        return resumable

    def remove_stale_stages(self, keep: set[str]) -> None:
        stages = self.work / "stages"
        if stages.exists():
            for entry in stages.iterdir():
                if entry.name not in keep:
                    shutil.rmtree(entry, ignore_errors=True)
