"""The labels stage's cross-validation folds run as Ray tasks when the process is connected to Ray
(the Ray engine's driver), with the same out-of-sample probabilities as the local fit."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from curata.checks import label_errors
from curata.checks.label_errors import out_of_sample_probabilities, tfidf_features
from tests.conftest import write_jsonl
from tests.engines.test_ray_engine import run_both

ray = pytest.importorskip("ray")
REAL = Path(__file__).parents[1] / "data" / "real"


def imdb(n: int) -> list[dict[str, Any]]:
    with gzip.open(REAL / "imdb_label_errors_1000.jsonl.gz", "rt") as handle:
        return [json.loads(line) for line in handle][:n]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_folds_on_ray_give_the_local_probabilities(monkeypatch: pytest.MonkeyPatch) -> None:
    from curata.engines.ray_engine import start_ray

    rows = imdb(600)
    features = tfidf_features([r["text"] for r in rows], 5000)
    labels = np.array([r["label"] == rows[0]["label"] for r in rows], dtype=np.int64)
    assert not label_errors.on_ray()
    local = out_of_sample_probabilities(features, labels, 5, 1.0)
    start_ray(2)
    try:
        registered: list[bool] = []
        import ray.util.joblib as ray_joblib

        real = ray_joblib.register_ray
        monkeypatch.setattr(ray_joblib, "register_ray", lambda: registered.append(True) or real())
        assert label_errors.on_ray()
        distributed = out_of_sample_probabilities(features, labels, 5, 1.0)
    finally:
        ray.shutdown()
    assert registered, "the folds did not run on Ray"
    assert distributed.tobytes() == local.tobytes()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ray_engine_matches_the_local_engine_with_label_errors(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "in.jsonl", imdb(1000))
    local, ray_summary = run_both(data, tmp_path)
    assert local["stage_summaries"]["labels"] == ray_summary["stage_summaries"]["labels"]
    assert local["stage_summaries"]["labels"]["label_error"]["issues"] > 0
