"""The loop: decisions stored for OUT change the next `curata run` of the same OUT. Human verdicts
override the rules, edits and relabels change the records, provenance names the reviewer, and
only the stages that depend on a changed decision are recomputed."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
from tests.conftest import read_jsonl
from tests.review.conftest import run_to
from typer.testing import CliRunner

from curata.cli import app
from curata.review.loop import store_path
from curata.review.store import ReviewStore


def stage_dirs(out: Path) -> dict[str, float]:
    """Each finished stage folder with the time its `_done.json` was written."""
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / ".curata" / "stages").glob("*/_done.json")}


def test_verdicts_override_the_rules_with_provenance(review_run: tuple[Path, Path]) -> None:
    data, out = review_run
    store = ReviewStore(store_path(out))
    store.act("dup-0", "alice", "accept")
    store.act("clean-0", "alice", "reject", "off topic")
    store.act("clean-3", "bob", "needs_rewrite", "too short")
    before = stage_dirs(out)
    run_to(data, out)
    curated = {r["id"]: r for r in read_jsonl(out / "curated.jsonl")}
    rejected = {r["id"]: r for r in read_jsonl(out / "rejected.jsonl")}
    assert "dup-0" in curated and "dup-1" in rejected
    assert rejected["clean-0"]["reasons"] == ["human_reject"]
    assert rejected["clean-0"]["decided_by"] == "human:alice"
    assert rejected["clean-3"]["reasons"] == ["needs_rewrite"]
    assert rejected["clean-3"]["decided_by"] == "human:bob"
    findings = [f for f in read_jsonl(out / "findings.jsonl") if f["id"] in ("clean-0", "dup-0")]
    assert {"check": "human_reject", "message": "reject by alice: off topic"}.items() <= next(
        f for f in findings if f["id"] == "clean-0"
    ).items()
    # The overruled rule stays visible as a warning, not a reason.
    overruled = [(f["check"], f["severity"]) for f in findings if f["id"] == "dup-0"]
    assert ("exact_duplicate", "warning") in overruled
    assert {severity for _, severity in overruled} == {"warning"}
    signals = {r["id"]: r for r in pq.read_table(out / "signals.parquet").to_pylist()}
    assert signals["dup-0"]["decided_by"] == "human:alice" and signals["dup-0"]["kept"]
    assert signals["dup-2"]["decided_by"] == "rule"
    after = stage_dirs(out)
    # Only `decide` changed: every signal stage was reused as it was.
    reused = {k for k in before if k in after and before[k] == after[k]}
    assert {k.split("-")[1] for k in before} - {k.split("-")[1] for k in reused} == {"decide"}


def test_edits_and_relabels_rewrite_the_record_and_its_signals(review_run: tuple[Path, Path]) -> None:
    data, out = review_run
    store = ReviewStore(store_path(out))
    store.act("clean-1", "bob", "edit", "A much <b>better</b> answer.\n\n```sh\necho ok\n```")
    store.act("clean-2", "bob", "relabel", "math")
    store.act("empty-1", "alice", "edit", "Autumn leaves falling")
    run_to(data, out)
    curated = {r["id"]: r for r in read_jsonl(out / "curated.jsonl")}
    assert curated["clean-1"]["messages"][1]["content"].startswith("A much <b>better</b>")
    assert curated["clean-1"]["messages"][0]["content"] == "Explain idea 1 briefly."
    assert curated["clean-2"]["label"] == "math"
    # The edit fixed an empty answer: the rule no longer fires on the new text.
    assert curated["empty-1"]["messages"][1]["content"] == "Autumn leaves falling"
    signals = {r["id"]: r for r in pq.read_table(out / "signals.parquet").to_pylist()}
    assert signals["empty-1"]["empty_response"] == 0
    assert signals["clean-1"]["flags"] == ["human_edit"]
    assert signals["clean-2"]["flags"] == ["human_relabel"]
    assert signals["clean-2"]["decided_by"] == "human:bob"
    # Untouched records are byte-identical to their input.
    original = {json.loads(line)["id"]: json.loads(line) for line in data.read_text().splitlines()}
    assert curated["clean-0"] == original["clean-0"]


def test_undone_decisions_are_not_applied(review_run: tuple[Path, Path]) -> None:
    data, out = review_run
    store = ReviewStore(store_path(out))
    store.act("clean-0", "alice", "reject", "oops")
    store.undo("alice")
    run_to(data, out)
    assert "clean-0" in {r["id"] for r in read_jsonl(out / "curated.jsonl")}


def test_cli_export_and_import_decisions(review_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, out = review_run
    ReviewStore(store_path(out)).act("clean-0", "alice", "reject", "spam")
    dump = tmp_path / "decisions.jsonl"
    runner = CliRunner()
    result = runner.invoke(app, ["review", "export", str(out), "--dest", str(dump)])
    assert result.exit_code == 0, result.output
    assert read_jsonl(dump)[0] | {"at": None} == {
        "id": "clean-0",
        "reviewer": "alice",
        "status": "reject",
        "reason": "spam",
        "label": None,
        "edit": None,
        "at": None,
    }
    other = tmp_path / "other"
    run_to(data, other)
    result = runner.invoke(app, ["review", "import", str(other), str(dump)])
    assert result.exit_code == 0, result.output
    run_to(data, other)
    assert "clean-0" in {r["id"] for r in read_jsonl(other / "rejected.jsonl")}
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\n')
    result = runner.invoke(app, ["review", "import", str(other), str(bad)])
    assert result.exit_code == 1
    assert "bad.jsonl:1: not a decision line" in result.output
    result = runner.invoke(app, ["review", "import", str(tmp_path / "never-run"), str(dump)])
    assert result.exit_code == 1 and "run `curata run` into it first" in result.output
    assert not (tmp_path / "never-run").exists()
