"""Semantic dedup: every pair above the threshold found, clusters by union-find, best copy kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from curata.dedup.semantic import components, similar_pairs
from curata.embed.base import unit_rows
from curata.stages.semantic_dedup import SemanticDedup, SemanticDedupSettings
from tests.conftest import write_jsonl
from tests.semantic.helpers import view


def planted(
    n: int, dim: int = 32, copies: int = 40, seed: int = 0
) -> tuple[np.ndarray, set[tuple[int, int]]]:
    """Random unit vectors with `copies` near-copies (cosine ≈ 0.99) of random originals."""
    rng = np.random.default_rng(seed)
    base = unit_rows(rng.normal(size=(n, dim)))
    truth = set()
    for k in range(copies):
        original, copy = 2 * k, 2 * k + 1
        base[copy] = unit_rows((base[original] + 0.1 * rng.normal(size=dim) / np.sqrt(dim))[None])[0]
        truth.add((original, copy))
    return base, truth


def as_set(pairs) -> set[tuple[int, int]]:  # type: ignore[no-untyped-def]
    return set(zip(pairs.left.tolist(), pairs.right.tolist(), strict=True))


def test_exact_search_finds_exactly_the_pairs_above_threshold() -> None:
    vectors, truth = planted(600)
    found = similar_pairs(vectors, 0.95)
    assert as_set(found) == truth
    sims = (vectors @ vectors.T)[found.left, found.right]
    assert np.allclose(found.similarity, sims, atol=1e-5)


def test_kmeans_partitions_find_the_same_pairs_as_the_full_search() -> None:
    # Clustered data (so k-means splits it) with copies planted everywhere, searched in partitions
    # far smaller than the set: the two-centroid assignment keeps boundary pairs.
    rng = np.random.default_rng(1)
    centres = unit_rows(rng.normal(size=(8, 32)))
    vectors = unit_rows(centres[rng.integers(0, 8, 3000)] + 0.35 * rng.normal(size=(3000, 32)))
    for k in range(0, 600, 2):
        vectors[k + 1] = unit_rows((vectors[k] + 0.02 * rng.normal(size=32))[None])[0]
    full = as_set(similar_pairs(vectors, 0.97))
    partitioned = as_set(similar_pairs(vectors, 0.97, partition_size=400))
    assert len(full) >= 300
    assert len(partitioned & full) / len(full) >= 0.99
    assert partitioned <= full


def test_union_find_joins_chains_into_one_cluster() -> None:
    e = np.eye(4, dtype=np.float32)
    a = unit_rows(np.stack([e[0], e[0] + 0.25 * e[1], e[0] + 0.5 * e[1], e[3]]))
    pairs = similar_pairs(a, 0.96)
    labels = components(4, pairs)
    assert labels[0] == labels[1] == labels[2] != labels[3]


def test_stage_keeps_highest_quality_and_names_cluster_by_kept_row() -> None:
    vectors, _ = planted(50, copies=3)
    # Row 5 copies row 4 with higher quality: it is kept and row 4 points to it.
    quality = np.full(50, 0.5)
    quality[5] = 0.9
    stage = SemanticDedup(SemanticDedupSettings(threshold=0.95, center=False))
    stage.bind({"quality": None}, [])  # type: ignore[dict-item]
    result = stage.analyse(view(vectors, quality), lambda n: None)
    score = result.columns["semantic_duplicate"].to_numpy()
    cluster = result.columns["semantic_dup_cluster"].to_numpy()
    related = result.columns["semantic_duplicate__related"].to_pylist()
    assert np.flatnonzero(score).tolist() == [1, 3, 4]
    assert related[1] == ["r0"] and related[3] == ["r2"] and related[4] == ["r5"]
    assert cluster[:6].tolist() == [0, 0, 2, 2, 5, 5]
    assert (cluster[6:] == -1).all()
    assert result.summary["duplicates"] == 3 and result.summary["clusters"] == 3


def test_ties_keep_the_first_row() -> None:
    vectors, _ = planted(10, copies=1)
    vectors[1] = vectors[0]
    stage = SemanticDedup(SemanticDedupSettings(threshold=0.99, center=False))
    result = stage.analyse(view(vectors), lambda n: None)
    assert result.columns["semantic_duplicate"].to_pylist()[:2] == [0.0, 1.0]


PARAPHRASES = [
    ("How do I reverse a list in Python?", "In Python, how do I reverse a list?"),
    ("What is the capital city of France?", "What is the capital of France, the city?"),
    ("Give me three tips for sleeping better at night.", "Give me three tips for better sleeping at night."),
]
OTHERS = [
    "Write a haiku about autumn leaves falling.",
    "Explain how photosynthesis works in plants.",
    "Translate 'good morning' into Spanish.",
    "What are the rules of chess castling?",
    "Summarise the plot of Hamlet in two sentences.",
    "How many bones are in the human body?",
]


@pytest.mark.parametrize("key", ["prompt", "conversation"])
def test_run_flags_paraphrased_prompts_with_related_ids(run_curata, tmp_path: Path, key: str) -> None:
    rows = []
    for i, (a, b) in enumerate(PARAPHRASES):
        rows.append({"id": f"p{i}a", "instruction": a, "output": "Here is the answer you asked for."})
        rows.append({"id": f"p{i}b", "instruction": b, "output": "Here is the answer you asked for."})
    rows += [{"id": f"o{i}", "instruction": t, "output": "Here is the answer."} for i, t in enumerate(OTHERS)]
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"stages:\n  - normalize\n  - embed: {{model: hashing, key: {key}}}\n"
        "  - semantic_dedup: {threshold: 0.6}\n  - decide: {actions: {semantic_duplicate: drop}}\n"
    )
    run = run_curata(data, extra=["--recipe", recipe])
    rejected = {r["id"]: r for r in run.rejected}
    assert set(rejected) == {"p0b", "p1b", "p2b"}
    assert all(r["reasons"] == ["semantic_duplicate"] for r in rejected.values())
    findings = {f["id"]: f for f in run.findings if f["check"] == "semantic_duplicate"}
    assert {i: f["related"] for i, f in findings.items()} == {"p0b": ["p0a"], "p1b": ["p1a"], "p2b": ["p2a"]}
    signals = {r["id"]: r for r in run.signals.to_pylist()}
    assert len(signals["p0a"]["embedding"]) == 256
    assert signals["p0a"]["semantic_dup_cluster"] == signals["p0b"]["semantic_dup_cluster"] == 0
    assert signals["o0"]["semantic_dup_cluster"] == -1
    assert run.summary["stage_summaries"]["semantic_dedup"]["duplicates"] == 3


def test_a_set_of_identical_records_is_one_cluster_even_after_centring() -> None:
    vectors = np.tile(unit_rows(np.arange(1, 9, dtype=np.float32)[None]), (3, 1))
    result = SemanticDedup(SemanticDedupSettings()).analyse(view(vectors), lambda n: None)
    assert result.columns["semantic_duplicate"].to_pylist() == [0.0, 1.0, 1.0]
    assert result.columns["semantic_dup_cluster"].to_pylist() == [0, 0, 0]
    empty = SemanticDedup(SemanticDedupSettings()).analyse(view(vectors[:0]), lambda n: None)
    assert empty.summary["duplicates"] == 0
