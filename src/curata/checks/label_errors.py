"""Label errors by confident learning: out-of-sample predicted probabilities from a
cross-validated classifier, handed to `cleanlab.filter.find_label_issues`.

The default classifier is logistic regression over word 1-2-gram TF-IDF features: fast on CPU and
strong on text (F1 0.57 against the human-verified IMDB label errors, see docs/checks.md); the
`embedding` column of the `embed` stage can be used instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LabelIssues:
    """Per row of the classified subset: the given label's out-of-sample probability, whether
    cleanlab calls it an issue, and the most likely label."""

    given_probability: np.ndarray
    is_issue: np.ndarray
    suggested: np.ndarray


def tfidf_features(texts: Sequence[str], max_features: int) -> object:
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=max_features, dtype=np.float32
    )
    return vectorizer.fit_transform(texts)


def out_of_sample_probabilities(features: object, labels: np.ndarray, folds: int, c: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    model = LogisticRegression(C=c, max_iter=1000)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    if not on_ray():
        probs = cross_val_predict(model, features, labels, cv=splitter, method="predict_proba")
        return np.asarray(probs, dtype=np.float64)
    # Under the Ray engine each fold is fitted by a Ray worker (joblib's Ray backend); every fold
    # is the same deterministic fit either way, so the probabilities are identical.
    import ray
    from joblib import parallel_backend
    from ray.util.joblib import register_ray

    register_ray()  # type: ignore[no-untyped-call]
    jobs = max(1, min(folds, int(ray.cluster_resources().get("CPU", 1))))  # type: ignore[no-untyped-call]
    with parallel_backend("ray", n_jobs=jobs):
        probs = cross_val_predict(model, features, labels, cv=splitter, method="predict_proba", n_jobs=jobs)
    return np.asarray(probs, dtype=np.float64)


def on_ray() -> bool:
    """Whether this process is connected to Ray (the Ray engine's driver): the folds then run there."""
    import sys

    ray = sys.modules.get("ray")
    return ray is not None and bool(ray.is_initialized())


def find_issues(labels: np.ndarray, probs: np.ndarray, filter_by: str) -> LabelIssues:
    from cleanlab.filter import find_label_issues

    issues = np.asarray(find_label_issues(labels, probs, filter_by=filter_by), dtype=bool)
    given = probs[np.arange(len(labels)), labels]
    return LabelIssues(given, issues, probs.argmax(axis=1))
