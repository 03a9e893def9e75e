"""The run contract: every file written, nothing lost, deterministic, re-deciding without recomputing."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curata.errors import InvariantError
from curata.outputs import ContractWriter
from tests.conftest import CONTRACT, cli, write_jsonl


def sample_rows() -> list[dict[str, str]]:
    rows = [
        {"instruction": f"Explain topic {i}.", "input": "", "output": f"Topic {i} is explained here."}
        for i in range(40)
    ]
    rows[5]["output"] = "   "  # empty response
    rows[7] = dict(rows[3])  # exact duplicate
    rows[9] = {**rows[3], "instruction": "EXPLAIN   topic 3!!"}  # duplicate after normalisation
    return rows


def test_demo_writes_every_contract_file_and_loses_nothing(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = cli(["demo", "-o", out, "--quiet"])
    assert result.exit_code == 0, result.output
    assert "report.html" in result.output
    for name in CONTRACT:
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    input_ids = pq.read_table(out / "signals.parquet", columns=["id"]).column("id").to_pylist()
    curated = [json.loads(x)["id"] for x in (out / "curated.jsonl").read_text().splitlines()]
    rejected = [json.loads(x)["id"] for x in (out / "rejected.jsonl").read_text().splitlines()]
    assert sorted(curated + rejected) == sorted(input_ids)
    assert len(input_ids) == summary["totals"]["records"] == 3142
    assert summary["rejected_by_reason"]["empty_response"] == 48


def test_rejections_carry_reasons_related_ids_and_findings(run_curata, tmp_path: Path) -> None:
    run = run_curata(write_jsonl(tmp_path / "in.jsonl", sample_rows()))
    rejected = {r["id"]: r for r in run.rejected}
    assert rejected["5"]["reasons"] == ["empty_response"]
    assert rejected["7"]["reasons"] == ["exact_duplicate"] and rejected["7"]["related"] == ["3"]
    assert rejected["9"]["related"] == ["3"] and rejected["9"]["decided_by"] == "rule"
    assert rejected["7"]["record"] == {"id": "7", **sample_rows()[7]}
    findings = {(f["id"], f["check"]): f for f in run.findings}
    assert findings[("5", "empty_response")]["severity"] == "error"
    assert findings[("9", "exact_duplicate")]["message"].startswith("same conversation as 3")
    assert sorted([r["id"] for r in run.curated] + list(rejected)) == sorted(str(i) for i in range(40))
    signals = run.signals
    assert signals.num_rows == 40 and "quality" in signals.column_names
    assert signals.column("exact_dup_cluster").to_pylist()[9] == 3


def test_two_runs_give_identical_outputs(run_curata, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", sample_rows())
    first, second = run_curata(path), run_curata(path)
    for name in ("curated.jsonl", "rejected.jsonl", "findings.jsonl", "bad_lines.jsonl"):
        assert (first.out / name).read_bytes() == (second.out / name).read_bytes(), name
    assert first.signals.equals(second.signals)


def test_changing_a_threshold_re_decides_without_recomputing_signals(run_curata, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", sample_rows())
    out = tmp_path / "same"
    assert cli(["run", path, "-o", out, "-q"]).exit_code == 0
    recipe = tmp_path / "flag_dupes.yaml"
    recipe.write_text(
        "stages:\n  - normalize\n  - stats\n  - checks\n  - quality\n  - exact_dedup\n"
        "  - decide:\n      actions: {exact_duplicate: flag}\n"
    )
    assert cli(["run", path, "-o", out, "-q", "--recipe", recipe]).exit_code == 0
    summary = json.loads((out / "summary.json").read_text())
    cached = {s["name"]: s["cached"] for s in summary["stages"]}
    assert cached == {
        "read": True,
        "normalize": True,
        "stats": True,
        "checks": True,
        "quality": True,
        "exact_dedup": True,
        "decide": False,
    }
    assert summary["rejected_by_reason"] == {"empty_response": 1}
    assert summary["checks"]["exact_duplicate"]["flagged"] == 2


def test_lost_record_fails_loudly_and_publishes_nothing(
    run_curata, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = ContractWriter.write_records

    def drop_one(self, table, curated, rejected, findings):  # type: ignore[no-untyped-def]
        return original(self, table.slice(1), curated, rejected, findings)

    monkeypatch.setattr(ContractWriter, "write_records", drop_one)
    path = write_jsonl(tmp_path / "in.jsonl", sample_rows())
    result = cli(["run", path, "-o", tmp_path / "out", "-q"])
    assert result.exit_code == InvariantError.exit_code
    assert "nothing-lost check failed: 40 input records, 39 written" in result.output
    assert not (tmp_path / "out" / "summary.json").exists()
    assert not (tmp_path / "out" / "curated.jsonl").exists()


def test_export_format_converts_curated_records(run_curata, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl", [{"instruction": "Hi?", "input": "", "output": "Hello.", "lang": "en"}]
    )
    run = run_curata(path, extra=["--export-format", "messages"])
    assert run.curated == [
        {
            "id": "0",
            "messages": [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}],
            "lang": "en",
        }
    ]


def test_several_inputs_get_file_name_ids_and_keep_their_own_formats(run_curata, tmp_path: Path) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", [{"text": "good film", "label": "pos"}])
    b = write_jsonl(
        tmp_path / "b.jsonl",
        [{"prompt": "2+2=", "completion": "4", "id": "own-id"}, {"prompt": "3+3=", "completion": "6"}],
    )
    run = run_curata(a, b)
    assert {r["id"]: r for r in run.curated} == {
        "a.jsonl:0": {"id": "a.jsonl:0", "text": "good film", "label": "pos"},
        "own-id": {"prompt": "2+2=", "completion": "4", "id": "own-id"},
        "b.jsonl:1": {"id": "b.jsonl:1", "prompt": "3+3=", "completion": "6"},
    }
    assert [i["format"] for i in run.summary["inputs"]] == ["text_label", "prompt_completion"]


def test_side_digests_equal_digests_of_the_joined_sides() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from curata.normalize import normalized_digest
    from curata.records import Role, Turn, join_turns
    from curata.stages.normalize import side_digests

    roles = st.sampled_from(list(Role))
    text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(roles, text), max_size=6))
    def check(pairs: list[tuple[Role, str]]) -> None:
        turns = [Turn(role, content) for role, content in pairs]
        wire = [{"role": str(t.role), "content": t.content} for t in turns]
        prompt = [t for t in turns if t.role in (Role.SYSTEM, Role.USER)]
        response = [t for t in turns if t.role is Role.ASSISTANT]
        expected = tuple(normalized_digest(join_turns(side)) for side in (turns, prompt, response))
        assert side_digests(wire) == expected

    check()


def test_exact_dedup_keeps_the_same_copy_whatever_order_the_rows_arrive_in() -> None:
    import numpy as np

    from curata.stages.dedup_exact import ExactDedup, ExactDedupSettings

    stage = ExactDedup(ExactDedupSettings())
    digests = np.repeat(np.eye(3, 16, dtype=np.uint8), [3, 1, 2], axis=0)
    rows = np.array([10, 4, 7, 2, 9, 3])
    ids = [f"r{r}" for r in rows]
    in_order = stage.dedupe(digests, None, ids, rows)
    shuffle = np.array([5, 2, 0, 4, 1, 3])
    shuffled = stage.dedupe(digests[shuffle], None, [ids[i] for i in shuffle], rows[shuffle])
    unshuffle = np.argsort(shuffle)
    assert (
        shuffled["exact_dup_cluster"].take(unshuffle).to_pylist() == in_order["exact_dup_cluster"].to_pylist()
    )
    assert in_order["exact_dup_cluster"].to_pylist() == [4, 4, 4, -1, 3, 3]
