"""The review store: states, undo as a stack, an audit log that cannot be rewritten, JSONL
export/import, and concurrent writers on the real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from curata.errors import InputError
from curata.review.store import ReviewStore, State


def test_actions_set_state_and_undo_restores_in_reverse_order(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "d.sqlite")
    store.act("r1", "alice", "reject", "  off topic ")
    store.act("r1", "alice", "edit", "new text")
    store.act("r2", "alice", "accept")
    assert store.state("r1", "alice") == State("reject", "off topic", None, "new text")
    assert store.undo("alice").record_id == "r2"  # type: ignore[union-attr]
    assert store.state("r2", "alice").empty
    store.undo("alice")
    assert store.state("r1", "alice") == State("reject", "off topic", None, None)
    store.undo("alice")
    assert store.state("r1", "alice").empty
    assert store.undo("alice") is None
    actions = [e.action for e in store.audit()]
    assert actions == ["reject", "edit", "accept", "undo", "undo", "undo"]


def test_undo_is_per_reviewer(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "d.sqlite")
    store.act("r1", "alice", "accept")
    store.act("r1", "bob", "reject", "wrong")
    store.undo("alice")
    assert store.state("r1", "alice").empty
    assert store.state("r1", "bob").status == "reject"


def test_audit_log_refuses_update_and_delete(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "d.sqlite")
    store.act("r1", "alice", "accept")
    with store.connect() as db:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("UPDATE audit SET reviewer='mallory'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("DELETE FROM audit")
    entry = store.audit()[0]
    assert (entry.reviewer, entry.before, entry.after["status"]) == ("alice", State().to_json(), "accept")


def test_final_decision_is_the_latest_reviewer_to_act(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "d.sqlite")
    store.act("r1", "alice", "accept")
    store.act("r1", "bob", "reject", "no")
    assert store.final()["r1"].reviewer == "bob"
    store.act("r1", "alice", "relabel", "math")
    assert store.final()["r1"].reviewer == "alice"


def test_export_import_round_trip_into_another_store(tmp_path: Path) -> None:
    source = ReviewStore(tmp_path / "a.sqlite")
    source.act("r1", "alice", "reject", "unsafe <b>")
    source.act("r2", "bob", "edit", "Ünïcode ✓\nline two")
    source.act("r2", "bob", "relabel", "code")
    lines = [json.dumps(x) for x in source.export_lines()]
    target = ReviewStore(tmp_path / "b.sqlite")
    assert target.import_lines(lines, "x.jsonl") == 2
    assert target.import_lines(lines, "x.jsonl") == 0  # idempotent
    assert target.state("r1", "alice") == source.state("r1", "alice")
    assert target.state("r2", "bob") == State(None, None, "code", "Ünïcode ✓\nline two")
    assert [e.action for e in target.audit()] == ["import", "import"]


def test_import_names_the_bad_line(tmp_path: Path) -> None:
    store = ReviewStore(tmp_path / "d.sqlite")
    lines = ['{"id": "r1", "reviewer": "alice", "status": "accept"}', '{"id": "r2", "status": "maybe"}']
    with pytest.raises(InputError, match=r"bad\.jsonl:2: not a decision line"):
        store.import_lines(lines, "bad.jsonl")
    assert store.decisions() == []


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "d.sqlite"
    ReviewStore(path)
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            store = ReviewStore(path)
            for i in range(40):
                store.act(f"r{i}", name, "accept" if i % 2 else "reject", f"{name} {i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in ("alice", "bob", "carol", "dave")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    store = ReviewStore(path)
    assert len(store.decisions()) == 160
    assert len(store.audit()) == 160
    assert len({e.seq for e in store.audit()}) == 160
