"""Splits keep whole near-duplicate components together, not only the stars near dedup cuts them
into: in a chain A~B~C (A and C not alike) the stars {A, B} and {C} still share a near pair (B, C)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from curata.select.splits import assign_splits, linked_groups
from tests.conftest import read_jsonl, write_jsonl

WORD = re.compile(r"[a-z0-9]+|[^\x00-\x7f]+")
SPLITS = ("train", "validation", "test")
RECIPE = """
stages:
  - normalize
  - stats
  - checks
  - quality
  - exact_dedup
  - near_dedup
  - decide: {actions: {near_duplicate: flag, exact_duplicate: flag}}
  - split: {stratify: none, near_join: NEAR_JOIN}
"""


def chained_records(chains: int = 24, length: int = 6, words: int = 40) -> list[dict[str, str]]:
    """Each chain step rewrites 5 fresh positions of a 40-word prompt: neighbours share 32 of their
    42 word pairs (Jaccard 0.62 >= 0.5), two steps apart only 22 of 62 (0.35)."""
    rng = np.random.default_rng(7)
    rows = []
    for c in range(chains):
        text = [f"w{c}x{i}" for i in range(words)]
        positions = rng.permutation(np.arange(1, words, 2))  # odd positions: edits never touch
        for step in range(length):
            # Distinct prompts: records sharing a prompt are grouped anyway, which would hide a leak.
            rows.append({"instruction": " ".join(text), "output": "Noted, thank you."})
            for p in positions[5 * step : 5 * step + 5]:
                text[p] = f"e{c}s{step}p{p}"
    return rows


def bigrams(text: str) -> set[tuple[str, str]]:
    words = WORD.findall(text.lower())
    return set(itertools.pairwise(words))


def jaccard(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> float:
    return len(a & b) / len(a | b)


def cross_split_near_pairs(records: list[dict[str, str]], split_of: dict[str, str]) -> int:
    """Independent of curata: every pair of records in different splits with Jaccard >= 0.5."""
    sets = {r["id"]: bigrams(f"{r['instruction']} {r['output']}") for r in records}
    return sum(
        1
        for a, b in itertools.combinations(records, 2)
        if split_of[a["id"]] != split_of[b["id"]] and jaccard(sets[a["id"]], sets[b["id"]]) >= 0.5
    )


@pytest.mark.parametrize("near_join", [False, True])
def test_chained_near_duplicates_never_straddle_splits(run_curata, tmp_path: Path, near_join: bool) -> None:
    """With the exact join off, near dedup's components alone must keep each chain whole."""
    rows = chained_records()
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE.replace("NEAR_JOIN", str(near_join).lower()))
    run = run_curata(write_jsonl(tmp_path / "in.jsonl", rows), extra=["--recipe", str(recipe)])
    signals = pq.read_table(
        run.out / "signals.parquet", columns=["id", "split", "near_dup_cluster", "near_dup_component"]
    )
    stars = signals.column("near_dup_cluster").to_numpy()
    components = signals.column("near_dup_component").to_numpy()
    # The chains really are cut into several stars, each chain one component.
    assert len(np.unique(components)) == 24 and (components >= 0).all()
    assert len(np.unique(stars[stars >= 0])) > 24

    records = [r for name in SPLITS for r in read_jsonl(run.out / "splits" / f"{name}.jsonl")]
    assert len(records) == len(rows)
    split_of = {r["id"]: name for name in SPLITS for r in read_jsonl(run.out / "splits" / f"{name}.jsonl")}
    assert cross_split_near_pairs(records, split_of) == 0
    leakage = run.summary["stage_summaries"]["split"]["leakage"]
    assert leakage["total"] == 0 and leakage["clusters_spanning_splits"]["near_dup_component"] == 0
    page = (run.out / "report.html").read_text(encoding="utf-8")
    assert "clusters spanning splits" in page and "near_dup_component" in page

    # Grouping by stars alone (what the split did before components were linked) leaks here.
    star_groups = linked_groups(len(stars), [stars])
    star_splits = assign_splits(star_groups, None, {"train": 0.8, "validation": 0.1, "test": 0.1})
    ids = signals.column("id").to_pylist()
    assert cross_split_near_pairs(records, dict(zip(ids, star_splits.tolist(), strict=True))) > 0
