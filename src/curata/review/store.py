"""The review store: every reviewer's current decision per record, and an append-only audit log.

SQLite in WAL mode with a busy timeout; each change runs in its own `BEGIN IMMEDIATE`
transaction (read the state, write the new state, append the audit entry), so several reviewers
and several server threads can decide at once without losing a decision. The audit table refuses
UPDATE and DELETE (triggers): undo is a new entry that restores an earlier state.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from curata.errors import InputError

Status = Literal["accept", "reject", "needs_rewrite"]
STATUSES: tuple[Status, ...] = ("accept", "reject", "needs_rewrite")
ACTIONS = ("accept", "reject", "needs_rewrite", "edit", "relabel", "clear")

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    record_id TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    status TEXT,
    reason TEXT,
    label TEXT,
    edit TEXT,
    seq INTEGER NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (record_id, reviewer)
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    reviewer TEXT NOT NULL,
    record_id TEXT NOT NULL,
    action TEXT NOT NULL,
    before TEXT NOT NULL,
    after TEXT NOT NULL,
    undoes INTEGER
);
CREATE INDEX IF NOT EXISTS audit_reviewer ON audit (reviewer, seq);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


@dataclass(frozen=True)
class State:
    """One reviewer's decision on one record; all None means undecided."""

    status: Status | None = None
    reason: str | None = None
    label: str | None = None
    edit: str | None = None

    @property
    def empty(self) -> bool:
        return self == State()

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> State:
        status = value.get("status")
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status '{status}' (expected one of {', '.join(STATUSES)})")
        return cls(status, value.get("reason"), value.get("label"), value.get("edit"))


@dataclass(frozen=True)
class Decision:
    record_id: str
    reviewer: str
    state: State
    seq: int
    at: str


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    reviewer: str
    record_id: str
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    undoes: int | None


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def apply_action(state: State, action: str, value: str | None) -> State:
    """The state after one action; `value` is the reason, the new text or the new label."""
    if action in ("accept",):
        return replace(state, status="accept", reason=None)
    if action in ("reject", "needs_rewrite"):
        return replace(state, status=action, reason=(value or "").strip() or None)  # type: ignore[arg-type]
    if action == "edit":
        return replace(state, edit=value)
    if action == "relabel":
        return replace(state, label=value)
    if action == "clear":
        return State()
    raise ValueError(f"unknown action '{action}' (expected one of {', '.join(ACTIONS)})")


class ReviewStore:
    """Decisions of one run directory, in `<OUT>/review/decisions.sqlite`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self.connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30.0, isolation_level=None)) as db:
            db.execute("PRAGMA busy_timeout=30000")
            db.row_factory = sqlite3.Row
            yield db

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self.connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @staticmethod
    def _state(db: sqlite3.Connection, record_id: str, reviewer: str) -> State:
        row = db.execute(
            "SELECT status, reason, label, edit FROM decisions WHERE record_id=? AND reviewer=?",
            (record_id, reviewer),
        ).fetchone()
        return State(row[0], row[1], row[2], row[3]) if row else State()

    @staticmethod
    def _write(
        db: sqlite3.Connection,
        record_id: str,
        reviewer: str,
        action: str,
        before: State,
        after: State,
        undoes: int | None = None,
        at: str | None = None,
    ) -> int:
        stamp = at or now()
        cursor = db.execute(
            "INSERT INTO audit (at, reviewer, record_id, action, before, after, undoes) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                stamp,
                reviewer,
                record_id,
                action,
                json.dumps(before.to_json(), ensure_ascii=False),
                json.dumps(after.to_json(), ensure_ascii=False),
                undoes,
            ),
        )
        seq = int(cursor.lastrowid or 0)
        if after.empty:
            db.execute("DELETE FROM decisions WHERE record_id=? AND reviewer=?", (record_id, reviewer))
        else:
            db.execute(
                "INSERT INTO decisions (record_id, reviewer, status, reason, label, edit, seq, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_id, reviewer) DO UPDATE SET "
                "status=excluded.status, reason=excluded.reason, label=excluded.label, "
                "edit=excluded.edit, seq=excluded.seq, at=excluded.at",
                (record_id, reviewer, after.status, after.reason, after.label, after.edit, seq, stamp),
            )
        return seq

    def act(self, record_id: str, reviewer: str, action: str, value: str | None = None) -> State:
        """Apply one action by one reviewer; returns the reviewer's new state for the record."""
        with self.transaction() as db:
            before = self._state(db, record_id, reviewer)
            after = apply_action(before, action, value)
            self._write(db, record_id, reviewer, action, before, after)
            return after

    def undo(self, reviewer: str) -> AuditEntry | None:
        """Restore the state before this reviewer's latest change not yet undone (a stack)."""
        with self.transaction() as db:
            row = db.execute(
                "SELECT * FROM audit WHERE reviewer=? AND action != 'undo' AND seq NOT IN "
                "(SELECT undoes FROM audit WHERE undoes IS NOT NULL) ORDER BY seq DESC LIMIT 1",
                (reviewer,),
            ).fetchone()
            if row is None:
                return None
            entry = self._entry(row)
            current = self._state(db, entry.record_id, reviewer)
            self._write(
                db, entry.record_id, reviewer, "undo", current, State.from_json(entry.before), entry.seq
            )
            return entry

    def state(self, record_id: str, reviewer: str) -> State:
        with self.connect() as db:
            return self._state(db, record_id, reviewer)

    def decisions(self, record_id: str | None = None, reviewer: str | None = None) -> list[Decision]:
        """Current decisions in the order they were made, optionally of one record or reviewer."""
        where, args = [], []
        if record_id is not None:
            where.append("record_id = ?")
            args.append(record_id)
        if reviewer is not None:
            where.append("reviewer = ?")
            args.append(reviewer)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self.connect() as db:
            rows = db.execute(f"SELECT * FROM decisions{clause} ORDER BY seq", args).fetchall()
        return [
            Decision(
                r["record_id"],
                r["reviewer"],
                State(r["status"], r["reason"], r["label"], r["edit"]),
                r["seq"],
                r["at"],
            )
            for r in rows
        ]

    def final(self) -> dict[str, Decision]:
        """Per record, the decision of the reviewer who acted on it last."""
        return {d.record_id: d for d in self.decisions()}

    def audit(self) -> list[AuditEntry]:
        with self.connect() as db:
            return [self._entry(r) for r in db.execute("SELECT * FROM audit ORDER BY seq")]

    @staticmethod
    def _entry(row: sqlite3.Row) -> AuditEntry:
        return AuditEntry(
            row["seq"],
            row["at"],
            row["reviewer"],
            row["record_id"],
            row["action"],
            json.loads(row["before"]),
            json.loads(row["after"]),
            row["undoes"],
        )

    def export_lines(self) -> Iterator[dict[str, Any]]:
        for d in self.decisions():
            yield {"id": d.record_id, "reviewer": d.reviewer, **d.state.to_json(), "at": d.at}

    def import_lines(self, lines: Iterable[str], source: str) -> int:
        """Set each reviewer's state from exported lines; returns how many states changed."""
        parsed: list[tuple[str, str, State, str | None]] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("expected a JSON object")
                rid, reviewer = obj.get("id"), obj.get("reviewer")
                if not isinstance(rid, str) or not isinstance(reviewer, str) or not reviewer:
                    raise ValueError("'id' and 'reviewer' must be non-empty strings")
                parsed.append((rid, reviewer, State.from_json(obj), obj.get("at")))
            except ValueError as exc:
                raise InputError(f"not a decision line: {exc}", path=source, line=number) from None
        changed = 0
        with self.transaction() as db:
            for rid, reviewer, state, at in parsed:
                before = self._state(db, rid, reviewer)
                if before != state:
                    self._write(
                        db, rid, reviewer, "import", before, state, at=at if isinstance(at, str) else None
                    )
                    changed += 1
        return changed
