"""The default selection: DEITA's redundancy filter with a quality/diversity blend."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from curata.diversity import mean_pairwise_distance, vendi_score
from curata.select.methods import deita_select, spread_select
from tests.conftest import write_jsonl
from tests.select.test_methods import crafted_pairs, near_copy, unit


def topic_favoured_set() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Four topics of 100 records each; the scorer rates topic 0 higher (0.75-1.0) than the rest
    (0.5-0.85), the way a length-sensitive score favours long code answers."""
    rng = np.random.default_rng(4)
    centers = unit(rng.standard_normal((4, 32)))
    topic = np.repeat(np.arange(4), 100)
    embeddings = np.stack([near_copy(centers[t], rng, 0.15) for t in topic])
    scores = np.where(topic == 0, rng.uniform(0.75, 1.0, 400), rng.uniform(0.5, 0.85, 400))
    return embeddings, scores, topic


def test_weight_zero_is_deita_exactly() -> None:
    rng = np.random.default_rng(2)
    centers = unit(rng.standard_normal((20, 8)))
    embeddings = np.stack([near_copy(centers[i % 20], rng, 0.3) for i in range(300)])
    scores = np.round(rng.random(300), 2)
    expected = deita_select(scores, embeddings, 60, 0.85).tolist()
    assert spread_select(scores, embeddings, 60, 0.85, weight=0.0).tolist() == expected


def test_blend_keeps_exactly_one_of_each_near_pair_and_fills_the_budget() -> None:
    embeddings, scores, pairs = crafted_pairs()
    chosen = set(spread_select(scores, embeddings, budget=5, threshold=0.9).tolist())
    assert len(chosen) == 5
    for a, b in pairs:
        assert len(chosen & {a, b}) == 1
    assert {6, 7} <= chosen


def test_blend_never_selects_two_records_at_or_above_the_threshold() -> None:
    embeddings, scores, _ = topic_favoured_set()
    chosen = spread_select(scores, embeddings, 120, threshold=0.95)
    sims = unit(embeddings[chosen]) @ unit(embeddings[chosen]).T
    np.fill_diagonal(sims, -1.0)
    assert len(chosen) == 120 and sims.max() < 0.95


def test_blend_beats_random_on_quality_and_both_diversity_metrics_where_score_order_does_not() -> None:
    embeddings, scores, topic = topic_favoured_set()
    budget = 80
    draws = [np.random.default_rng(s).choice(400, budget, replace=False) for s in range(10)]
    random_quality = np.mean([scores[d].mean() for d in draws])
    random_distance = np.mean([mean_pairwise_distance(embeddings[d]) for d in draws])
    random_vendi = np.mean([vendi_score(embeddings[d]) for d in draws])

    by_score = deita_select(scores, embeddings, budget, 0.9)
    # Score order piles into the favoured topic, so its records are closer together than chance.
    assert np.mean(topic[by_score] == 0) > 0.7
    assert mean_pairwise_distance(embeddings[by_score]) < random_distance

    blended = spread_select(scores, embeddings, budget, 0.9)
    assert scores[blended].mean() > random_quality
    assert mean_pairwise_distance(embeddings[blended]) >= random_distance
    assert vendi_score(embeddings[blended]) >= random_vendi
    # Within each topic it still takes the better records.
    for t in range(4):
        members = blended[topic[blended] == t]
        assert scores[members].mean() > scores[topic == t].mean()


def test_select_stage_reports_quality_and_diversity_against_a_random_draw(run_curata, tmp_path: Path) -> None:
    rows = [
        {"instruction": f"Explain topic {i % 7} case {i}", "output": f"answer {i} " * (1 + i % 9)}
        for i in range(120)
    ]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "stages:\n  - normalize\n  - stats\n  - checks\n  - quality\n  - embed: {model: hashing}\n"
        "  - decide\n  - select: {n: 30}\n"
    )
    run = run_curata(write_jsonl(tmp_path / "in.jsonl", rows), extra=["--recipe", str(recipe)])
    summary = run.summary["stage_summaries"]["select"]
    assert summary["selected"] == 30 and summary["diversity_weight"] == 1.0
    for key in ("diversity_selected", "diversity_random"):
        figures = summary[key]
        assert 0.0 < figures["mean_pairwise_cosine_distance"] <= 2.0 and 1.0 <= figures["vendi"] <= 30.0
    page = (run.out / "report.html").read_text(encoding="utf-8")
    assert "mean pairwise cosine distance" in page and "Vendi score (effective distinct records)" in page


def test_select_command_prints_quality_and_both_diversity_figures(tmp_path: Path) -> None:
    from tests.conftest import cli

    rows = [
        {"instruction": f"Question {i} about {i % 5}", "output": f"reply {i} " * (1 + i % 6)}
        for i in range(80)
    ]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "stages:\n  - normalize\n  - stats\n  - quality\n  - embed: {model: hashing}\n  - decide\n"
    )
    out = tmp_path / "out"
    assert (
        cli(["run", write_jsonl(tmp_path / "in.jsonl", rows), "-o", out, "--recipe", recipe, "-q"]).exit_code
        == 0
    )
    result = cli(["select", out, "--n", "20", "-q"])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "selected 20 of 80 kept records with 'deita'" in text
    assert "mean pairwise cosine distance" in text and "Vendi" in text and "(random:" in text
