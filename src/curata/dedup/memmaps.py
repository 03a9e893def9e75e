"""Memory maps that do not count as resident memory once a pass over them is done."""

from __future__ import annotations

import mmap

import numpy as np


def release(array: np.ndarray) -> None:
    """Drop a memory map's pages from this process (they stay in the page cache, written back
    when dirty): a random walk over the signatures or the shingles of millions of records would
    otherwise keep the whole file resident in the process, as if it were loaded in memory.
    Arrays that are not memory maps are left alone."""
    if not isinstance(array, np.memmap):
        return
    handle = getattr(array, "_mmap", None)
    if isinstance(handle, mmap.mmap):
        array.flush()
        handle.madvise(mmap.MADV_DONTNEED)
