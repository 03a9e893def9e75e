"""The select and split stages in a real run."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tests.conftest import read_jsonl, write_jsonl

RECIPE = """
stages:
  - normalize
  - stats
  - checks
  - quality
  - exact_dedup
  - decide
{extra}
"""


def labelled_rows() -> list[dict[str, str]]:
    rows = []
    for i in range(300):
        label = "pos" if i % 4 else "neg"
        rows.append(
            {
                "text": f"review number {i % 120} says it was {'great' if label == 'pos' else 'bad'}",
                "label": label,
            }
        )
    return rows


def recipe(tmp_path: Path, extra: str, decide: str = "  - decide") -> str:
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE.replace("{extra}", extra).replace("  - decide\n", decide + "\n"))
    return str(path)


def test_split_keeps_every_duplicate_cluster_in_one_split_and_stratifies(run_curata, tmp_path: Path) -> None:
    rows = labelled_rows()
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    flagging = recipe(
        tmp_path, "  - split: {stratify: label}", decide="  - decide: {actions: {exact_duplicate: flag}}"
    )
    # Duplicates are only flagged, so every copy is kept and must land in the same split as the others.
    run = run_curata(data, extra=["--recipe", flagging])
    assert len(run.curated) == 300
    signals = {r["id"]: r for r in run.signals.to_pylist()}
    splits = {
        name: read_jsonl(run.out / "splits" / f"{name}.jsonl") for name in ("train", "validation", "test")
    }
    assert sum(len(v) for v in splits.values()) == len(run.curated)
    for name, records in splits.items():
        for record in records:
            assert signals[record["id"]]["split"] == name
    # Records with the same text never straddle two splits.
    by_text: dict[str, set[str]] = {}
    for record in run.curated:
        by_text.setdefault(record["text"], set()).add(signals[record["id"]]["split"])
    assert all(len(s) == 1 for s in by_text.values())
    sizes = Counter(signals[r["id"]]["split"] for r in run.curated)
    total = sum(sizes.values())
    assert abs(sizes["train"] / total - 0.8) < 0.05
    for name in ("train", "test"):
        labels = Counter(r["label"] for r in splits[name])
        assert abs(labels["neg"] / len(splits[name]) - 0.25) < 0.08
    leakage = run.summary["stage_summaries"]["split"]["leakage"]
    assert leakage["total"] == 0


def test_select_top_n_rejects_the_rest_as_not_selected(run_curata, tmp_path: Path) -> None:
    rows = [
        {"instruction": f"Task {i}", "input": "", "output": "ok " * (1 + i % 7) if i % 5 else ""}
        for i in range(100)
    ]
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    run = run_curata(data, extra=["--recipe", recipe(tmp_path, "  - select: {n: 30, method: top}")])
    assert len(run.curated) == 30
    reasons = Counter(tuple(r["reasons"]) for r in run.rejected)
    assert reasons[("empty_response",)] == 20
    assert reasons[("not_selected",)] == 50
    not_selected = [f for f in run.findings if f["check"] == "not_selected"]
    assert len(not_selected) == 50 and {f["severity"] for f in not_selected} == {"info"}
    assert {r["decided_by"] for r in run.rejected if r["reasons"] == ["not_selected"]} == {"select"}
    summary = run.summary["stage_summaries"]["select"]
    assert summary["budget"] == 30 and summary["eligible"] == 80


def test_select_quota_balances_labels_with_a_cap(run_curata, tmp_path: Path) -> None:
    rows = [{"text": f"unique text {i}", "label": "pos" if i % 10 else "neg"} for i in range(200)]
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    run = run_curata(
        data,
        extra=["--recipe", recipe(tmp_path, "  - select: {n: 40, method: quota, by: label, balance: true}")],
    )
    assert Counter(r["label"] for r in run.curated) == {"pos": 20, "neg": 20}
    assert json.loads((run.out / "summary.json").read_text())["totals"]["kept"] == 40


def test_select_command_reruns_with_a_budget_reusing_every_signal(tmp_path: Path) -> None:
    from tests.conftest import cli

    rows = [{"instruction": f"Task {i}", "input": "", "output": "word " * (1 + i % 9)} for i in range(60)]
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out"
    assert cli(["run", data, "-o", out, "-q"]).exit_code == 0
    result = cli(["select", out, "--n", "10", "--method", "top", "-q"])
    assert result.exit_code == 0, result.output
    assert "selected 10 of 60 kept records with 'top'" in result.output
    summary = json.loads((out / "summary.json").read_text())
    cached = {s["name"]: s["cached"] for s in summary["stages"]}
    assert cached["checks"] and cached["exact_dedup"] and not cached["select"]
    assert len(read_jsonl(out / "curated.jsonl")) == 10
    select = summary["stage_summaries"]["select"]
    assert select["mean_score_selected"] >= select["mean_score_random"]
