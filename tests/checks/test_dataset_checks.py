"""Dataset-level checks through real runs: formats, lengths, labels, coverage."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from curata.checks.task_types import task_type
from curata.stages.base import RowStage
from curata.stages.registry import STAGES, register_stage
from tests.conftest import write_jsonl

REAL = Path(__file__).parents[1] / "data" / "real"


def recipe(tmp_path: Path, text: str) -> str:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return str(path)


def test_format_inconsistency_flags_prose_among_json_answers(run_curata: Any, tmp_path: Path) -> None:
    rows = [
        {"instruction": f"Extract the city and year from: I moved to City{i} in {1990 + i}.",
         "output": json.dumps({"city": f"City{i}", "year": 1990 + i})}
        for i in range(30)
    ]  # fmt: skip
    rows.append({"instruction": "Extract the city and year from: I moved to Oslo in 2001.",
                 "output": "The city is Oslo and the year is 2001, when you moved there."})  # fmt: skip
    run = run_curata(write_jsonl(tmp_path / "d.jsonl", rows))
    flagged = [f for f in run.findings if f["check"] == "format_inconsistency"]
    assert [f["id"] for f in flagged] == ["30"]
    assert "json" in flagged[0]["message"]
    assert run.summary["stage_summaries"]["formats"]["dominant"]["format"] == "json"


def test_format_inconsistency_is_quiet_on_mixed_instruction_data(run_curata: Any) -> None:
    run = run_curata(REAL / "lima.json")
    assert not [f for f in run.findings if f["check"] == "format_inconsistency"]


def test_too_long_and_too_short_use_the_stats_token_counts(run_curata: Any, tmp_path: Path) -> None:
    long_answer = "A full explanation with many details and examples. " * 40
    rows = [
        {"instruction": f"Explain topic {i} in depth.", "output": long_answer + str(i)} for i in range(20)
    ]
    rows.append({"instruction": "Explain topic 99 in depth.", "output": "Yes."})
    rows.append({"instruction": "Explain everything.", "output": "word " * 5000})
    config = recipe(tmp_path, "stages: [stats, lengths: {max_total_tokens: 4000}, decide]\n")
    run = run_curata(write_jsonl(tmp_path / "d.jsonl", rows), extra=["--recipe", config])
    by_check = {f["check"]: f["id"] for f in run.findings}
    assert by_check == {"too_short": "20", "too_long": "21"}


def test_class_imbalance_names_classes_and_ratios(run_curata: Any, tmp_path: Path) -> None:
    rows = [{"text": f"review number {i}", "label": "positive" if i < 90 else "negative"} for i in range(100)]
    run = run_curata(write_jsonl(tmp_path / "d.jsonl", rows))
    found = [f for f in run.findings if f["check"] == "class_imbalance"]
    assert len(found) == 1 and found[0]["id"] is None
    assert "positive 90.0%" in found[0]["message"] and "negative 10.0%" in found[0]["message"]
    assert found[0]["classes"] == {"positive": 90, "negative": 10}


def test_binary_answer_balance_is_reported_for_instruction_data(run_curata: Any, tmp_path: Path) -> None:
    rows = [
        {"instruction": f"Is {i} an even number?", "output": "Yes" if i < 50 else "No"} for i in range(56)
    ]
    run = run_curata(write_jsonl(tmp_path / "d.jsonl", rows))
    assert run.summary["stage_summaries"]["labels"]["binary_answers"] == {"positive": 50, "negative": 6}
    assert any(f["check"] == "class_imbalance" and "binary" in f["message"] for f in run.findings)


def test_label_error_finds_real_imdb_label_errors(run_curata: Any, tmp_path: Path) -> None:
    """1,000 real IMDB reviews; the human-verified errors are 15.5% of them."""
    source = REAL / "imdb_label_errors_1000.jsonl.gz"
    with gzip.open(source, "rt") as handle:
        truth = {r["id"]: r["is_label_error_paper"] for r in map(json.loads, handle)}
    run = run_curata(source)
    flagged = {f["id"] for f in run.findings if f["check"] == "label_error"}
    errors = {i for i, bad in truth.items() if bad}
    precision = len(flagged & errors) / len(flagged)
    recall = len(flagged & errors) / len(errors)
    assert precision > 2 * len(errors) / len(truth)
    assert recall > 0.3
    suggestion = next(f for f in run.findings if f["check"] == "label_error")["message"]
    assert "most likely" in suggestion
    assert not [r for r in run.rejected if "label_error" in r["reasons"]]


def test_label_error_stays_quiet_when_labels_are_not_predictable(run_curata: Any, tmp_path: Path) -> None:
    """Labels the text cannot predict (coin flips here; KTO's good/bad answer labels in real data)
    say nothing about which labels are wrong: no label_error, and the summary says why."""
    rng = np.random.default_rng(0)
    topics = ["weather", "football", "cooking", "music", "travel", "gardening", "chess", "movies"]
    rows = [
        {"text": f"a note about {rng.choice(topics)} and {rng.choice(topics)} number {i}",
         "label": str(rng.choice(["good", "bad"]))}
        for i in range(200)
    ]  # fmt: skip
    run = run_curata(write_jsonl(tmp_path / "d.jsonl", rows))
    summary = run.summary["stage_summaries"]["labels"]["label_error"]
    assert "skipped" in summary and summary["classified"] == 200
    assert not [f for f in run.findings if f["check"] == "label_error"]


def test_coverage_gap_for_declared_labels_topics_and_task_types(run_curata: Any, tmp_path: Path) -> None:
    rows = [
        {"instruction": f"Write a recipe for soup number {i}.", "output": "Boil water."} for i in range(25)
    ]
    rows += [{"instruction": "What is the capital of France?", "output": "Paris."}]
    config = recipe(
        tmp_path,
        "stages:\n  - coverage:\n      min_examples: 5\n"
        "      expected_topics: {cooking: [recipe, soup], finance: [stock, bond]}\n"
        "      expected_task_types: [generation, code]\n  - decide\n",
    )
    run = run_curata(write_jsonl(tmp_path / "d.jsonl", rows), extra=["--recipe", config])
    gaps = [f for f in run.findings if f["check"] == "coverage_gap"]
    assert {(g["kind"], g["name"]) for g in gaps} == {("topic", "finance"), ("task type", "code")}
    assert all(g["id"] is None for g in gaps)
    assert run.summary["stage_summaries"]["coverage"]["task_types"] == {"generation": 25, "qa": 1}


@register_stage
class FakeTopics(RowStage):
    """Stands in for the `topics` stage: writes `topic_cluster` from the instruction's first word."""

    name = "test_fake_topics"
    description = "test only"

    def reads(self) -> frozenset[str]:
        return frozenset({"turns"})

    def writes(self) -> dict[str, pa.DataType]:
        return {"topic_cluster": pa.int32()}

    def process(self, batch: pa.Table) -> dict[str, pa.Array]:
        firsts = [t[0]["content"].split()[0] for t in batch.column("turns").to_pylist()]
        return {
            "topic_cluster": pa.array(
                [0 if w == "Cook" else 1 if w == "Fix" else 2 for w in firsts], pa.int32()
            )
        }


@register_stage
class FakeEmbed(RowStage):
    """Stands in for the `embed` stage: a 16-d float32 vector that encodes the text's true class,
    plus noise (the text says `true=<class>`, the label may disagree)."""

    name = "test_fake_embed"
    description = "test only"

    def reads(self) -> frozenset[str]:
        return frozenset({"turns"})

    def writes(self) -> dict[str, pa.DataType]:
        return {"embedding": pa.list_(pa.float32(), 16)}

    def process(self, batch: pa.Table) -> dict[str, pa.Array]:
        rng = np.random.default_rng(batch.num_rows)
        texts = [t[0]["content"] for t in batch.column("turns").to_pylist()]
        vectors = rng.normal(0, 1, (len(texts), 16)).astype(np.float32)
        vectors[:, 0] += np.array([5.0 if "true=a" in t else -5.0 for t in texts], dtype=np.float32)
        flat = pa.array(vectors.ravel(), pa.float32())
        return {"embedding": pa.FixedSizeListArray.from_arrays(flat, 16)}


def test_label_error_uses_the_embedding_column_when_present(run_curata: Any, tmp_path: Path) -> None:
    rows = [
        {"text": f"item {i} true={'a' if i % 2 else 'b'}", "label": "a" if i % 2 else "b"} for i in range(200)
    ]
    wrong = {str(i) for i in (3, 10, 57, 88, 121, 150)}
    for i in map(int, wrong):
        rows[i]["label"] = "b" if rows[i]["label"] == "a" else "a"
    config = recipe(tmp_path, "stages: [test_fake_embed, labels, decide]\n")
    run = run_curata(write_jsonl(tmp_path / "d.jsonl", rows), extra=["--recipe", config])
    assert run.summary["stage_summaries"]["labels"]["label_error"]["features"] == "embedding"
    flagged = {f["id"] for f in run.findings if f["check"] == "label_error"}
    assert len(wrong & flagged) >= 5 and len(flagged - wrong) <= 4


def test_coverage_gap_for_thin_topic_clusters(run_curata: Any, tmp_path: Path) -> None:
    assert STAGES["test_fake_topics"] is FakeTopics
    rows = [{"instruction": f"Cook dish {i}", "output": "ok"} for i in range(40)]
    rows += [{"instruction": f"Fix bug {i}", "output": "ok"} for i in range(40)]
    rows += [{"instruction": "Paint a fence", "output": "ok"}]
    config = recipe(tmp_path, "stages: [test_fake_topics, coverage, decide]\n")
    run = run_curata(write_jsonl(tmp_path / "d.jsonl", rows), extra=["--recipe", config])
    gaps = [f for f in run.findings if f["check"] == "coverage_gap"]
    assert [(g["kind"], g["name"], g["count"]) for g in gaps] == [("topic_cluster", 2, 1)]


@pytest.mark.parametrize(
    ("instruction", "expected"),
    [
        ("Write a Python function that reverses a list.", "code"),
        ("Calculate 17 * 23.", "math"),
        ("Classify the sentiment of this tweet: I love it", "classification"),
        ("Extract all the dates mentioned in the text below.", "extraction"),
        ("Rewrite this sentence in the passive voice.", "rewrite"),
        ("Brainstorm names for a bakery.", "brainstorm"),
        ("Write a short story about a lighthouse keeper.", "generation"),
        ("Who wrote Pride and Prejudice?", "qa"),
    ],
)
def test_task_type_from_leading_verbs(instruction: str, expected: str) -> None:
    assert task_type(instruction) == expected


def test_task_types_cover_a_real_sample(run_curata: Any) -> None:
    run = run_curata(REAL / "lima.json")
    counts = run.summary["stage_summaries"]["coverage"]["task_types"]
    assert sum(counts.values()) == 25 and len(counts) >= 3
    types = run.signals.column("task_type").to_pylist()
    assert np.mean([t == "other" for t in types]) < 0.5
