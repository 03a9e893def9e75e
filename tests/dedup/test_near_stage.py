"""The near_dedup stage in real runs: default recipe, clusters and representatives, chat keys,
prompt-side conflicts, determinism, and the nothing-lost contract."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from curata.errors import RecipeError
from curata.pipeline import build_plan
from curata.recipe import load_recipe
from curata.records import TURN_TYPE
from curata.stages.base import DatasetView
from curata.stages.dedup_near import NearDedup, NearDedupSettings
from tests.conftest import write_jsonl

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "gsm8k_first1500.jsonl"


def real_rows(count: int) -> list[dict[str, str]]:
    return [json.loads(line) for line in REAL.read_text(encoding="utf-8").splitlines()[:count]]


def edited(text: str, rng: random.Random, rate: float = 0.08) -> str:
    words = text.split()
    for i in rng.sample(range(len(words)), max(1, int(len(words) * rate))):
        words[i] = words[i] + "s"
    return " ".join(words)


class TableView(DatasetView):
    """An in-memory view, to drive a dataset stage directly."""

    def __init__(self, table: pa.Table) -> None:
        self.table = table

    @property
    def n_rows(self) -> int:
        return self.table.num_rows

    def column(self, name: str) -> pa.ChunkedArray:
        return self.table.column(name)

    def iter_batches(self, columns: Sequence[str]) -> Iterator[pa.Table]:
        for start in range(0, self.table.num_rows, 7):
            yield self.table.select(list(columns)).slice(start, 7)

    def take(self, rows: np.ndarray, columns: Sequence[str]) -> pa.Table:
        return self.table.select(list(columns)).take(pa.array(rows))


def chat(prompt: str, response: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]


def test_the_best_quality_copy_is_kept_and_names_the_cluster() -> None:
    rng = random.Random(1)
    rows = real_rows(6)
    convs = [chat(r["instruction"], r["output"]) for r in rows]
    convs += [chat(edited(rows[0]["instruction"], rng), rows[0]["output"])]
    convs += [chat(rows[0]["instruction"], edited(rows[0]["output"], rng))]
    ids = [f"r{i}" for i in range(len(convs))]
    quality = [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.9, 0.2]
    table = pa.table(
        {"id": ids, "turns": pa.array(convs, pa.list_(TURN_TYPE)), "quality": pa.array(quality, pa.float32())}
    )
    stage = NearDedup(NearDedupSettings())
    stage.bind({"quality": pa.float32()}, ())
    assert "quality" in stage.reads()
    result = stage.analyse(TableView(table), lambda _: None)
    score = result.columns["near_duplicate"].to_numpy()
    related = result.columns["near_duplicate__related"].to_pylist()
    cluster = result.columns["near_dup_cluster"].to_numpy()
    assert list(np.flatnonzero(score)) == [0, 7]
    assert related[0] == ["r6"] and related[7] == ["r6"] and related[6] is None
    assert list(cluster) == [6, -1, -1, -1, -1, -1, 6, 6]
    assert result.summary["duplicates"] == 2 and result.summary["clusters"] == 1
    assert result.columns["near_dup_similarity"].to_numpy()[6] > 0.5

    # Without a quality column the first row is kept.
    plain = NearDedup(NearDedupSettings())
    plain.bind({}, ())
    first = plain.analyse(TableView(table.drop(["quality"])), lambda _: None)
    assert list(np.flatnonzero(first.columns["near_duplicate"].to_numpy())) == [6, 7]
    assert first.columns["near_duplicate__related"].to_pylist()[6] == ["r0"]


def alpaca_with_near_copies(tmp_path: Path) -> tuple[Path, list[int]]:
    rng = random.Random(4)
    rows: list[dict[str, Any]] = list(real_rows(120))
    sources = []
    for _ in range(20):
        src = rng.randrange(120)
        sources.append(src)
        rows.append({**rows[src], "output": edited(rows[src]["output"], rng)})
    return write_jsonl(tmp_path / "in.jsonl", rows), sources


def test_default_recipe_drops_near_copies_and_loses_nothing(run_curata, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, sources = alpaca_with_near_copies(tmp_path)
    run = run_curata(data)
    rejected = {r["id"]: r for r in run.rejected}
    curated = [r["id"] for r in run.curated]
    assert len(curated) + len(rejected) == 140
    assert len(set(curated) | set(rejected)) == 140
    near = {r["id"] for r in run.rejected if "near_duplicate" in r["reasons"]}
    copies = {str(120 + i) for i in range(20)}
    originals = {str(s) for s in sources}
    # One record per cluster stays: each rejected one is a copy or an original whose copy won on quality.
    assert len(near) == len(copies | originals) - len(set(sources))
    assert near <= copies | originals
    findings = [f for f in run.findings if f["check"] == "near_duplicate"]
    assert {f["id"] for f in findings} == near
    signals = run.signals.to_pydict()
    row_of = {rid: i for i, rid in enumerate(signals["id"])}
    for f in findings:
        kept = f["related"][0]
        assert kept in curated
        assert signals["near_dup_cluster"][row_of[f["id"]]] == row_of[kept]
    assert run.summary["stage_summaries"]["near_dedup"]["duplicates"] == len(near)
    # The stage's spill files (kept shingles, large signature matrices) are gone once it ends.
    assert not (run.out / ".curata" / "scratch" / "near_dedup_conversation").exists()


def test_runs_are_deterministic(run_curata, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data, _ = alpaca_with_near_copies(tmp_path)
    first, second = run_curata(data), run_curata(data)
    assert (first.out / "rejected.jsonl").read_bytes() == (second.out / "rejected.jsonl").read_bytes()
    assert (first.out / "findings.jsonl").read_bytes() == (second.out / "findings.jsonl").read_bytes()
    columns = ["near_duplicate", "near_dup_cluster", "near_dup_similarity"]
    assert first.signals.select(columns).equals(second.signals.select(columns))


CHAT_RECIPE = """
name: chat-keys
stages:
  - normalize
  - exact_dedup:
      key: conversation
  - exact_dedup:
      key: prompt
  - near_dedup:
      key: conversation
  - near_dedup:
      key: prompt
  - near_dedup:
      key: response
  - conflicts
  - decide
"""


def test_prompt_and_response_keys_run_side_by_side_and_feed_conflicts(run_curata, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    rows = real_rows(11)
    records = [
        {"id": f"q{i}", "messages": chat(r["instruction"], r["output"])} for i, r in enumerate(rows[:10])
    ]
    # Same question reworded slightly, answered differently: a prompt-side near duplicate and a conflict.
    records.append(
        {"id": "reworded", "messages": chat(edited(rows[0]["instruction"], rng), rows[10]["output"])}
    )
    # Another question with q1's answer lightly edited: a response-side near duplicate only.
    records.append(
        {"id": "same-answer", "messages": chat(rows[10]["instruction"], edited(rows[1]["output"], rng))}
    )
    # q2 lightly edited on both sides: a near duplicate of the conversation, not a conflict.
    q2 = chat(edited(rows[2]["instruction"], rng, 0.02), edited(rows[2]["output"], rng, 0.02))
    records.append({"id": "q2-edited", "messages": q2})
    data = write_jsonl(tmp_path / "chat.jsonl", records)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(CHAT_RECIPE)
    run = run_curata(data, extra=["--recipe", recipe])
    names = set(run.signals.column_names)
    assert {
        "near_duplicate",
        "near_duplicate_prompt",
        "near_duplicate_response",
        "exact_duplicate_prompt",
        "near_dup_cluster_prompt",
        "near_dup_cluster_response",
        "exact_dup_cluster_prompt",
    } <= names
    by_check: dict[str, dict[str, dict[str, Any]]] = {}
    for f in run.findings:
        by_check.setdefault(f["check"], {})[f["id"]] = f
    assert set(by_check["near_duplicate_prompt"]) == {"reworded", "q2-edited"}
    assert by_check["near_duplicate_prompt"]["reworded"]["related"] == ["q0"]
    assert set(by_check["near_duplicate_response"]) == {"same-answer", "q2-edited"}
    # The prompt-side near-dup cluster feeds conflicts on its own (no setting needed); near-identical
    # answers (a response-side cluster) are the same answer.
    assert set(by_check["conflicting_duplicate"]) == {"q0", "reworded"}
    assert set(by_check["near_duplicate"]) == {"q2-edited"}
    # Side-key duplicates are flagged for review, not dropped; the conversation near-dup is.
    assert len(run.curated) == 12
    assert [(r["id"], r["reasons"]) for r in run.rejected] == [("q2-edited", ["near_duplicate"])]
    # Each near_dedup stage's summary is kept: the second and third are keyed by their key.
    summaries = run.summary["stage_summaries"]
    assert [
        summaries[name]["key"] for name in ("near_dedup", "near_dedup:prompt", "near_dedup:response")
    ] == [
        "conversation",
        "prompt",
        "response",
    ]
    assert summaries["near_dedup:prompt"]["duplicates"] == 2


def test_two_stages_with_the_same_key_are_a_recipe_error(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "stages:\n  - normalize\n  - near_dedup\n  - near_dedup:\n      threshold: 0.7\n  - decide\n"
    )
    with pytest.raises(RecipeError, match="near_duplicate"):
        build_plan(load_recipe(str(recipe)), "fp")


def test_bands_that_do_not_fit_the_permutations_are_rejected() -> None:
    with pytest.raises(ValueError, match="exceeds num_perm"):
        NearDedupSettings(bands=40, rows=4, num_perm=128)


def test_a_chain_never_drops_a_record_unlike_the_one_kept_for_it() -> None:
    """A~B and B~C pass the threshold but A and C share little (a chain through B): B is dropped
    for A, and C, whose own Jaccard to A fails, stays."""
    words = [f"word{i}" for i in range(60)]
    a = words
    b = [f"x{i}" for i in range(15)] + words[15:]
    c = b[:45] + [f"y{i}" for i in range(15)]
    convs = [chat("Tell me.", " ".join(t)) for t in (a, b, c)]
    table = pa.table(
        {
            "id": ["a", "b", "c"],
            "turns": pa.array(convs, pa.list_(TURN_TYPE)),
            "quality": pa.array([0.9, 0.5, 0.5], pa.float32()),
        }
    )
    stage = NearDedup(NearDedupSettings(key="response"))
    stage.bind({"quality": pa.float32()}, ())
    result = stage.analyse(TableView(table), lambda _: None)
    code = stage.code
    assert list(result.columns[code].to_numpy()) == [0.0, 1.0, 0.0]
    assert result.columns[f"{code}__related"].to_pylist()[1] == ["a"]
    assert list(result.columns[stage.cluster].to_numpy()) == [0, 0, -1]
    assert "Jaccard 0.59" in result.columns[f"{code}__msg"].to_pylist()[1]
