"""Conversations to train on, read with curata's own readers so every format curata reads works.

DATA may be a curated file (any format and file type `curata run` accepts), several files, or a
run directory, whose `curated.jsonl` is read. Records without an assistant turn (classification
`text_label` records) cannot teach a chat model to answer, so they are skipped and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from curata.errors import InputError
from curata.ingest import BadLine, IngestOptions, ingest
from curata.inputs import discover

Conversation = list[dict[str, str]]


@dataclass
class TrainingData:
    conversations: list[Conversation]
    ids: list[str]
    skipped_no_answer: int
    bad_lines: int
    sources: list[str]


def resolve_inputs(specs: Sequence[str | Path]) -> list[str]:
    """A run directory stands for its curated.jsonl; anything else is passed to curata's discovery."""
    resolved = []
    for spec in specs:
        path = Path(spec)
        if path.is_dir() and (path / "curated.jsonl").exists():
            resolved.append(str(path / "curated.jsonl"))
        else:
            resolved.append(str(spec))
    return resolved


def read_training_data(specs: Sequence[str | Path], record_format: str | None = None) -> TrainingData:
    inputs = discover(resolve_inputs(specs))
    batches: list[pa.RecordBatch] = []
    bad: list[BadLine] = []
    ingest(inputs, IngestOptions(format=record_format), batches.append, bad.append)
    conversations: list[Conversation] = []
    ids: list[str] = []
    skipped = 0
    for batch in batches:
        for rid, turns in zip(batch.column("id").to_pylist(), batch.column("turns").to_pylist(), strict=True):
            if not any(t["role"] == "assistant" and t["content"].strip() for t in turns):
                skipped += 1
                continue
            conversations.append([{"role": t["role"], "content": t["content"]} for t in turns])
            ids.append(rid)
    if not conversations:
        raise InputError(
            "no record with an assistant answer to train on", path=", ".join(str(s) for s in specs)
        )
    return TrainingData(conversations, ids, skipped, len(bad), [f.display for f in inputs])
