"""The Ray engine gives the local engine's outputs on the same input (a local Ray instance)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from curata.checks.columns import message_column, related_column
from tests.conftest import write_jsonl
from tests.engines.near_data import near_rows
from tests.engines.test_resume import assert_same_outputs, dataset

pytest.importorskip("ray")


def run(data: Path, out: Path, engine: str, recipe: Path | None = None) -> None:
    extra = ["--recipe", str(recipe)] if recipe else []
    subprocess.run(
        [
            sys.executable,
            "-m",
            "curata.cli",
            "run",
            str(data),
            "-o",
            str(out),
            "--quiet",
            "--workers",
            "2",
            "--batch-rows",
            "1000",
            "--engine",
            engine,
            *extra,
        ],
        check=True,
        timeout=240,
    )


def run_both(data: Path, tmp_path: Path, recipe: Path | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run both engines into tmp_path/local and tmp_path/ray, check that their outputs are
    identical, and return both summaries (local, ray)."""
    run(data, tmp_path / "local", "local", recipe)
    run(data, tmp_path / "ray", "ray", recipe)
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
    local, ray = (json.loads((tmp_path / d / "summary.json").read_text()) for d in ("local", "ray"))
    return local, ray


@pytest.mark.timeout(300)
def test_ray_engine_smoke_matches_the_local_engine(tmp_path: Path) -> None:
    rows = [
        {"instruction": f"Question {i % 700}?", "input": "", "output": f"Answer {i % 900}." if i % 50 else ""}
        for i in range(3_000)
    ]
    # Near copies (edited copies, chains of edits, templated records) for the distributed near_dedup.
    data = write_jsonl(tmp_path / "in.jsonl", rows + near_rows(60))
    local, ray = run_both(data, tmp_path)
    assert ray["engine"] == "ray" and ray["stage_summaries"]["exact_dedup"]["duplicates"] > 0
    assert ray["stage_summaries"]["near_dedup"] == local["stage_summaries"]["near_dedup"]
    assert ray["stage_summaries"]["near_dedup"]["duplicates"] > 0
    assert_same_near_signals(tmp_path / "local", tmp_path / "ray", "")


def assert_same_near_signals(local: Path, ray: Path, suffix: str) -> None:
    """The near_dedup signals, named: the score, message, kept record, cluster and similarity."""
    names = [f"{base}{suffix}" for base in ("near_duplicate", "near_dup_cluster", "near_dup_similarity")]
    names += [message_column(f"near_duplicate{suffix}"), related_column(f"near_duplicate{suffix}")]
    a, b = (pq.read_table(d / "signals.parquet") for d in (local, ray))
    for name in names:
        assert a.column(name).equals(b.column(name)), name
    assert (a.column(f"near_duplicate{suffix}").to_numpy() > 0).any()
    assert (a.column(f"near_dup_similarity{suffix}").to_numpy() > 0).any()


REAL = Path(__file__).parents[1] / "data" / "real"
# The default recipe with the decision stages after it, and conflicts linked through a cluster
# column (which runs on the driver: the fallback path of a stage with a distributed version).
FULL = """
stages:
  - normalize
  - stats
  - checks
  - quality
  - exact_dedup
  - near_dedup: {key: prompt}
  - near_dedup: {key: response}
  - conflicts:
      prompt_clusters: [exact_dup_cluster]
  - decide:
      actions:
        empty_response: drop
        exact_duplicate: drop
        near_duplicate_response: drop
  - select: {fraction: 0.8, method: top}
  - split
"""


def real_records(n: int) -> list[dict[str, str]]:
    """Real instructions (LIMA, GSM8K samples) with exact copies, same prompts with other
    answers, empty answers, and near copies (every 13th answer with a few words edited, the
    edits growing along the set so copies of copies chain) mixed in."""
    pool = json.loads((REAL / "lima.json").read_text()) + json.loads((REAL / "gsm_8k_train.json").read_text())
    rows = []
    for i in range(n):
        base = pool[i % len(pool)]
        # Rows i and i + 1000 are copies (then changed by the rules below).
        prompt = f"{base['instruction']} ({i % 1000})"
        row = {"instruction": prompt, "input": base.get("input", ""), "output": base["output"]}
        if i % 11 == 0:
            row["output"] = f"A different answer, number {i}."
        if i % 13 == 5:
            words = row["output"].split()
            for k in range(1 + (i // 13) % 4):
                if words:
                    words[(i * 7 + k * 31) % len(words)] = f"edit{k}"
            row["output"] = " ".join(words)
        if i % 37 == 0:
            row["output"] = " "
        rows.append(row)
    return rows


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("recipe", ["default", "with decision stages"])
def test_ray_engine_matches_the_local_engine_on_real_records(tmp_path: Path, recipe: str) -> None:
    data = write_jsonl(tmp_path / "in.jsonl", real_records(4_000))
    recipe_path = None
    if recipe != "default":
        recipe_path = tmp_path / "full.yaml"
        recipe_path.write_text(FULL)
    local, ray = run_both(data, tmp_path, recipe_path)
    assert local["stage_summaries"] == ray["stage_summaries"]
    assert ray["stage_summaries"]["conflicts"]["records"] > 0
    assert ray["stage_summaries"]["exact_dedup"]["duplicates"] > 0
    for suffix in [""] if recipe == "default" else ["_prompt", "_response"]:
        assert_same_near_signals(tmp_path / "local", tmp_path / "ray", suffix)
    for split in sorted((tmp_path / "local" / "splits").glob("*.jsonl")):
        assert split.read_bytes() == (tmp_path / "ray" / "splits" / split.name).read_bytes()


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_ray_engine_matches_the_local_engine_on_a_larger_set(tmp_path: Path) -> None:
    data = dataset(tmp_path / "in.jsonl", n=40_000)
    run(data, tmp_path / "local", "local")
    run(data, tmp_path / "ray", "ray")
    assert_same_outputs(tmp_path / "local", tmp_path / "ray")
