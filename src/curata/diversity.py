"""How varied a set of records is, from their embeddings and topic clusters.

- Vendi score (Friedman & Dieng 2023): exp of the entropy of the eigenvalues of K/n, K the cosine
  similarity matrix; the "effective number of distinct items": 1 for n copies of one vector, n for
  n orthogonal vectors. For unit rows X, K/n = X Xᵀ/n shares its non-zero eigenvalues with
  Xᵀ X/n (d × d), so it costs O(n d²), not O(n²).
- Mean pairwise cosine distance: 1 − mean cosine over distinct pairs.
- Cluster entropy: Shannon entropy of the topic-cluster shares, also normalised by log k.
"""

from __future__ import annotations

import numpy as np

from curata.embed.base import unit_rows


def vendi_score(vectors: np.ndarray) -> float:
    x = unit_rows(np.asarray(vectors, dtype=np.float64))
    n = len(x)
    if n == 0:
        return 0.0
    eigenvalues = np.linalg.eigvalsh((x.T.astype(np.float64) @ x) / n)
    p = eigenvalues[eigenvalues > 1e-12]
    return float(np.exp(-(p * np.log(p)).sum()))


def mean_pairwise_distance(vectors: np.ndarray) -> float:
    """1 − the mean cosine over distinct pairs, from the sum vector (O(n d))."""
    x = unit_rows(np.asarray(vectors, dtype=np.float64))
    n = len(x)
    if n < 2:
        return 0.0
    total = x.sum(axis=0)
    self_sim = float((x * x).sum())
    mean_cos = (float(total @ total) - self_sim) / (n * (n - 1))
    return 1.0 - mean_cos


def cluster_entropy(labels: np.ndarray) -> tuple[float, float]:
    """Shannon entropy (nats) of cluster shares, and the same divided by log(number of clusters)."""
    _, counts = np.unique(labels, return_counts=True)
    if len(counts) < 2:
        return 0.0, 0.0
    p = counts / counts.sum()
    h = float(-(p * np.log(p)).sum())
    return h, h / float(np.log(len(counts)))


def diversity_metrics(vectors: np.ndarray, labels: np.ndarray | None = None) -> dict[str, float]:
    """Every metric over all rows: each is O(n d²) at most, so no sampling is needed."""
    out = {
        "vendi_score": round(vendi_score(vectors), 4),
        "mean_pairwise_cosine_distance": round(mean_pairwise_distance(vectors), 4),
    }
    if labels is not None:
        h, normalised = cluster_entropy(labels)
        out["cluster_entropy"] = round(h, 4)
        out["cluster_entropy_normalised"] = round(normalised, 4)
    return out
