"""The canonical record: one conversation, whatever file format it came from.

Formats are only ways of reading and writing records. Treating the conversation as the unit lets
every check say which turn it is about and lets dedup choose its key: the prompt side (system and
user turns), the response side (assistant turns) or the whole conversation.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import pyarrow as pa


class Role(StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


# A dict lookup, not `Role(value)` (an enum call per turn): records are built per batch of checks.
ROLE_OF = {role.value: role for role in Role}
PROMPT_ROLES = frozenset({Role.SYSTEM, Role.USER})
RESPONSE_ROLES = frozenset({Role.ASSISTANT})

DedupKey = Literal["conversation", "prompt", "response"]
DEDUP_KEYS: tuple[DedupKey, ...] = ("conversation", "prompt", "response")

# Joins turns when a side is read as one text; a blank line keeps turns apart for n-gram checks.
TURN_SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    content: str


@dataclass(slots=True)
class Record:
    """One example. `id` is the user's id or its position; `source` is the file it came from."""

    id: str
    turns: tuple[Turn, ...]
    label: str | None = None
    source: str = ""
    # The record format it was read from; `text_label` records have no response side.
    format: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt_turns(self) -> tuple[Turn, ...]:
        return tuple(t for t in self.turns if t.role in PROMPT_ROLES)

    @property
    def response_turns(self) -> tuple[Turn, ...]:
        return tuple(t for t in self.turns if t.role in RESPONSE_ROLES)

    @property
    def prompt_text(self) -> str:
        return join_turns(self.prompt_turns)

    @property
    def response_text(self) -> str:
        return join_turns(self.response_turns)

    @property
    def conversation_text(self) -> str:
        return join_turns(self.turns)

    @property
    def last_response(self) -> str:
        """The final assistant turn: where truncation and refusals show up."""
        for turn in reversed(self.turns):
            if turn.role is Role.ASSISTANT:
                return turn.content
        return ""

    @property
    def last_prompt(self) -> str:
        """The user turn the final answer replies to (the last user turn)."""
        for turn in reversed(self.turns):
            if turn.role is Role.USER:
                return turn.content
        return ""

    def side_text(self, key: DedupKey) -> str:
        if key == "prompt":
            return self.prompt_text
        if key == "response":
            return self.response_text
        return self.conversation_text


def join_turns(turns: Iterable[Turn]) -> str:
    return TURN_SEPARATOR.join(t.content for t in turns)


TURN_TYPE = pa.struct([pa.field("role", pa.string()), pa.field("content", pa.string())])

# The columns every record batch starts with. `_row` is the record's global ordinal in the run: the
# internal key (user ids may repeat); `raw` is the record's original JSON, so output is lossless.
RECORD_SCHEMA = pa.schema(
    [
        pa.field("_row", pa.int64(), nullable=False),
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("format", pa.string(), nullable=False),
        pa.field("turns", pa.list_(TURN_TYPE), nullable=False),
        pa.field("label", pa.string()),
        pa.field("raw", pa.large_string(), nullable=False),
    ]
)
RECORD_COLUMNS = tuple(RECORD_SCHEMA.names)


def records_from_batch(batch: pa.RecordBatch | pa.Table) -> list[Record]:
    """Materialise Python records from a record batch (for per-record checks written in Python)."""
    ids = batch.column("id").to_pylist()
    turns = batch.column("turns").to_pylist()
    labels = batch.column("label").to_pylist()
    sources = batch.column("source").to_pylist()
    formats = batch.column("format").to_pylist()
    return [
        Record(
            id=rid,
            turns=tuple(Turn(ROLE_OF.get(t["role"]) or Role(t["role"]), t["content"]) for t in rturns),
            label=label,
            source=source,
            format=fmt,
        )
        for rid, rturns, label, source, fmt in zip(ids, turns, labels, sources, formats, strict=True)
    ]


def side_texts(batch: pa.RecordBatch | pa.Table, key: DedupKey) -> list[str]:
    """The text of one side of every record in a batch, without building Record objects."""
    roles = {"prompt": PROMPT_ROLES, "response": RESPONSE_ROLES}.get(key)
    out: list[str] = []
    for rturns in batch.column("turns").to_pylist():
        out.append(TURN_SEPARATOR.join(t["content"] for t in rturns if roles is None or t["role"] in roles))
    return out


def turns_to_arrow(turns: Sequence[Turn]) -> list[dict[str, str]]:
    return [{"role": str(t.role), "content": t.content} for t in turns]
