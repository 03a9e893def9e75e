"""The `rewrite` stage in `curata run` against a real OpenAI-protocol server: the verified rewrite
is the answer in curated.jsonl (any export format) and in `curata export`, with its provenance in
signals.parquet and findings; answers that still break the spec are flagged or rejected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli, read_jsonl, write_jsonl
from tests.llm.fake_server import FakeOpenAI, Reply, fake_openai, last_user

SPEC = {"ends_with": "Answer: [A-D]"}


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-000000")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def rewriting_server(body: dict[str, Any], n: int) -> Reply:
    """Appends 'Answer: X' (fenced, as models do), except for 'stubborn' records."""
    text = last_user(body)
    answer = text.split("### ANSWER TO REWRITE\n")[1].split("\n\nReply with only")[0]
    if "stubborn" in text:
        return Reply("I would rather not.")
    return Reply(f"```\n{answer}\nAnswer: {answer.strip()[0].upper()}\n```")


def data(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    rows: list[dict[str, Any]] = [
        {"id": f"q{i}", "instruction": f"Question {i}", "output": f"{'abcd'[i % 4]} it is", "topic": f"t{i}"}
        for i in range(6)
    ]
    rows.append({"id": "ok", "instruction": "Already fine", "output": "Because.\nAnswer: C"})
    rows.append({"id": "stub", "instruction": "A stubborn one", "output": "d"})
    return write_jsonl(tmp_path / "mcq.jsonl", rows), rows


def recipe(path: Path, server: FakeOpenAI, actions: dict[str, str] | None = None) -> Path:
    llm = {"base_url": server.url, "model": "fake", "backoff_base": 0.001}
    stages = [
        "normalize",
        "stats",
        "checks",
        {"rewrite": {"llm": llm, "spec": SPEC}},
        {"decide": {"actions": actions or {}}},
    ]
    path.write_text(json.dumps({"stages": stages}))
    return path


def run(args: list[Any]) -> None:
    result = cli(["run", *args, "-q"])
    assert result.exit_code == 0, result.output


def test_rewritten_answers_replace_the_originals_in_curated_output(tmp_path: Path) -> None:
    inputs, rows = data(tmp_path)
    out = tmp_path / "out"
    with fake_openai(rewriting_server) as server:
        run([inputs, "-o", out, "--recipe", recipe(tmp_path / "r.yaml", server)])
        assert server.count == 6 + 2  # 'ok' passes already; 'stub' is tried twice
    curated = {r["id"]: r for r in read_jsonl(out / "curated.jsonl")}
    assert set(curated) == {r["id"] for r in rows}  # rewrite_failed is flagged by default, not dropped
    assert curated["q1"] == {**rows[1], "output": "b it is\nAnswer: B"}  # other fields untouched
    assert curated["ok"] == rows[6]
    assert curated["stub"] == rows[7]  # the failed attempt is not applied

    findings = read_jsonl(out / "findings.jsonl")
    rewritten = {f["id"]: f for f in findings if f["check"] == "rewritten"}
    assert set(rewritten) == {f"q{i}" for i in range(6)}
    assert "rewritten by fake" in rewritten["q1"]["message"]
    (failed,) = [f for f in findings if f["check"] == "rewrite_failed"]
    assert failed["id"] == "stub" and "does not end with" in failed["message"]
    assert failed["severity"] == "warning"

    signals = {s["id"]: s for s in read_signals(out)}
    assert signals["q1"]["rewrite_original"] == "b it is" and signals["q1"]["rewrite_model"] == "fake"
    assert signals["q1"]["rewrite_response"] == "b it is\nAnswer: B"
    assert signals["stub"]["rewrite_status"] == "failed" and signals["stub"]["rewrite_original"] is None
    assert signals["ok"]["rewrite_status"] == "unchanged"

    # `curata export` gives the same answers as curated.jsonl
    exported = cli(["export", out, "--dest", tmp_path / "exp", "--format", "messages"])
    assert exported.exit_code == 0, exported.output
    (export_file,) = (tmp_path / "exp").glob("*.jsonl")
    last = {r["id"]: r["messages"][-1]["content"] for r in read_jsonl(export_file)}
    assert last["q2"] == "c it is\nAnswer: C" and last["stub"] == "d"


def test_rewrite_failures_are_rejected_when_decide_drops_them(tmp_path: Path) -> None:
    inputs, rows = data(tmp_path)
    out = tmp_path / "out"
    with fake_openai(rewriting_server) as server:
        drop = recipe(tmp_path / "r.yaml", server, {"rewrite_failed": "drop"})
        run([inputs, "-o", out, "--recipe", drop, "--export-format", "messages"])
    curated = read_jsonl(out / "curated.jsonl")
    rejected = read_jsonl(out / "rejected.jsonl")
    # nothing lost: every input record is curated or rejected, once
    assert sorted(r["id"] for r in curated + rejected) == sorted(r["id"] for r in rows)
    assert [(r["id"], r["reasons"]) for r in rejected] == [("stub", ["rewrite_failed"])]
    answers = {r["id"]: r["messages"][-1]["content"] for r in curated}
    assert answers["q0"] == "a it is\nAnswer: A" and answers["ok"] == "Because.\nAnswer: C"
    assert all(a.rstrip()[-9:-1] == "Answer: " for a in answers.values())


def read_signals(out: Path) -> list[dict[str, Any]]:
    import pyarrow.parquet as pq

    return list(pq.read_table(out / "signals.parquet").to_pylist())
