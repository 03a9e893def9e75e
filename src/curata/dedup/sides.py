"""The turns of one dedup key (conversation, prompt side, response side) as flat Arrow arrays,
without building a Python object per record or per turn."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curata.records import PROMPT_ROLES, RESPONSE_ROLES, DedupKey

KEY_ROLES: dict[str, frozenset[str]] = {
    "prompt": frozenset(str(r) for r in PROMPT_ROLES),
    "response": frozenset(str(r) for r in RESPONSE_ROLES),
}


def key_turns(turns: pa.Array | pa.ChunkedArray, key: DedupKey) -> tuple[pa.Array, np.ndarray]:
    """The contents of the turns on the key's side, and the record (batch position) of each."""
    if isinstance(turns, pa.ChunkedArray):
        turns = turns.combine_chunks() if turns.num_chunks else pa.array([], turns.type)
    offsets = np.asarray(turns.offsets.to_numpy(zero_copy_only=False), dtype=np.int64)
    flat = turns.flatten()
    record_of_turn = np.repeat(np.arange(len(turns), dtype=np.int64), np.diff(offsets))
    contents = flat.field("content")
    roles = KEY_ROLES.get(key)
    if roles is None:
        return contents, record_of_turn
    keep = pc.is_in(flat.field("role"), value_set=pa.array(sorted(roles)))
    keep_np = np.asarray(keep.to_numpy(zero_copy_only=False), dtype=bool)
    return contents.filter(keep), record_of_turn[keep_np]
