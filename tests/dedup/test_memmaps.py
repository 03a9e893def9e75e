"""Released memory maps leave the process's resident memory and keep their data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psutil

from curata.dedup.memmaps import release


def test_a_released_map_is_no_longer_resident_and_reads_back_the_same(tmp_path: Path) -> None:
    process = psutil.Process()
    size = 64 * 2**20 // 4
    written = np.lib.format.open_memmap(tmp_path / "w.npy", mode="w+", dtype=np.uint32, shape=(size,))
    written[:] = np.arange(size, dtype=np.uint32)
    before = process.memory_info().rss
    release(written)
    assert before - process.memory_info().rss > 48 * 2**20
    reader = np.load(tmp_path / "w.npy", mmap_mode="r")
    touched = process.memory_info().rss
    assert int(np.asarray(reader).sum(dtype=np.int64)) == size * (size - 1) // 2
    assert process.memory_info().rss - touched > 48 * 2**20
    release(reader)
    assert process.memory_info().rss - touched < 16 * 2**20
    release(np.ones(10))  # not a memory map: nothing to do
