"""Topic clusters (k chosen automatically), the 2-D map, and the diversity metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from curata.diversity import cluster_entropy, mean_pairwise_distance, vendi_score
from curata.embed.base import unit_rows
from curata.stages.topics import Topics, TopicsSettings
from curata.topics import candidate_ks, choose_k, silhouette, top_terms
from tests.conftest import write_jsonl
from tests.semantic.helpers import view

WORDS = {
    0: "python code function error list loop",
    1: "recipe bake oven flour sugar butter",
    2: "football match goal team league player",
    3: "planet star orbit telescope galaxy moon",
}


def blobs(
    per: int = 60, k: int = 4, dim: int = 24, spread: float = 0.15, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng.normal(size=(k, dim)))
    labels = np.repeat(np.arange(k), per)
    return unit_rows(centres[labels] + spread * rng.normal(size=(len(labels), dim))), labels


def test_vendi_is_one_for_identical_and_n_for_orthogonal_vectors() -> None:
    assert vendi_score(np.tile([[0.6, 0.8, 0.0]], (50, 1))) == pytest.approx(1.0, abs=1e-6)
    assert vendi_score(np.eye(7)) == pytest.approx(7.0, abs=1e-6)
    # Two groups of identical vectors, orthogonal to each other: two effective items.
    assert vendi_score(np.repeat(np.eye(2), 10, axis=0)) == pytest.approx(2.0, abs=1e-6)


def test_mean_pairwise_distance_and_entropy_on_known_sets() -> None:
    assert mean_pairwise_distance(np.eye(5)) == pytest.approx(1.0)
    assert mean_pairwise_distance(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-6)
    x = unit_rows(np.random.default_rng(0).normal(size=(40, 8)))
    brute = 1 - np.mean([x[i] @ x[j] for i in range(40) for j in range(40) if i != j])
    assert mean_pairwise_distance(x) == pytest.approx(brute, abs=1e-6)
    h, normalised = cluster_entropy(np.array([0, 0, 1, 1, 2, 2]))
    assert h == pytest.approx(np.log(3)) and normalised == pytest.approx(1.0)
    assert cluster_entropy(np.zeros(5))[1] == 0.0


def test_silhouette_matches_scikit_learn() -> None:
    from sklearn.metrics import silhouette_score

    x, labels = blobs(per=30, spread=0.6)
    assert silhouette(x, labels) == pytest.approx(silhouette_score(x, labels, metric="cosine"), abs=1e-5)


def test_k_is_chosen_to_match_well_separated_groups() -> None:
    x, _ = blobs(per=80, k=4)
    assert 4 in candidate_ks(len(x))
    k, scores = choose_k(x)
    assert k == 4
    assert scores[4] == max(scores.values())
    assert candidate_ks(3) == [1]


def test_top_terms_name_each_cluster_by_its_own_words() -> None:
    labels = np.repeat(np.arange(4), 5)
    texts = [f"{WORDS[c]} common words here" for c in labels]
    terms = top_terms(texts, labels, per_cluster=3)
    for c, words in WORDS.items():
        assert terms[c] and set(terms[c]) <= set(words.split())


def test_topics_stage_writes_clusters_map_and_summary() -> None:
    x, truth = blobs(per=40, k=4)
    texts = [f"{WORDS[c]} number {i}" for i, c in enumerate(truth)]
    result = Topics(TopicsSettings()).analyse(view(x, texts=texts), lambda n: None)
    labels = result.columns["topic_cluster"].to_numpy()
    # Clusters recover the planted groups exactly (up to naming).
    assert len(set(zip(labels.tolist(), truth.tolist(), strict=True))) == 4
    assert result.columns["map_x"].type == result.columns["map_y"].type
    s = result.summary
    assert s["k"] == 4 and s["chosen_by"] == "silhouette"
    assert sorted(c["count"] for c in s["clusters"]) == [40, 40, 40, 40]
    for c in s["clusters"]:
        members = {f"r{i}" for i in np.flatnonzero(labels == c["cluster"])}
        assert len(c["exemplars"]) == 3 and {e["id"] for e in c["exemplars"]} <= members
        group = truth[labels == c["cluster"]][0]
        assert set(c["terms"]) <= set(WORDS[group].split())
    d = s["diversity"]
    assert d["cluster_entropy_normalised"] == pytest.approx(1.0)
    assert 3.0 < d["vendi_score"] < 160


def test_fixed_k_from_the_recipe_and_tiny_sets() -> None:
    x, _ = blobs(per=10, k=3)
    result = Topics(TopicsSettings(k=2)).analyse(view(x, texts=["a b"] * 30), lambda n: None)
    assert result.summary["k"] == 2 and result.summary["chosen_by"] == "recipe"
    tiny = Topics(TopicsSettings()).analyse(view(x[:2], texts=["one", "two"]), lambda n: None)
    assert tiny.summary["k"] == 1 and tiny.columns["topic_cluster"].to_pylist() == [0, 0]


def test_topics_summary_lands_in_summary_json_and_report(run_curata, tmp_path: Path) -> None:
    rows = [
        {"id": f"{c}-{i}", "instruction": f"{WORDS[c]} question {i}", "output": f"{WORDS[c]} answer"}
        for c in WORDS
        for i in range(15)
    ]
    rows.append({"id": "dup", "instruction": rows[0]["instruction"], "output": rows[0]["output"]})
    data = write_jsonl(tmp_path / "in.jsonl", rows)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        "stages:\n  - normalize\n  - exact_dedup\n  - embed: {model: hashing}\n  - topics\n"
        "  - decide: {actions: {exact_duplicate: drop}}\n"
    )
    run = run_curata(data, extra=["--recipe", recipe])
    topics = run.summary["stage_summaries"]["topics"]
    assert topics["k"] >= 2 and sum(c["count"] for c in topics["clusters"]) == len(rows)
    assert set(topics["diversity"]) >= {"vendi_score", "mean_pairwise_cosine_distance", "cluster_entropy"}
    signals = run.signals
    assert {"topic_cluster", "map_x", "map_y", "embedding"} <= set(signals.column_names)
    page = (run.out / "report.html").read_text()
    assert 'data-section="topics"' in page and "Vendi score" in page
    assert page.index('data-section="topics"') < page.index('data-section="duplicates"')


def test_an_empty_set_has_no_clusters() -> None:
    result = Topics(TopicsSettings()).analyse(view(np.zeros((0, 8)), texts=[]), lambda n: None)
    assert result.summary["k"] == 0 and result.summary["clusters"] == []
    assert result.columns["topic_cluster"].to_pylist() == []
