"""Topic clusters of embeddings: k-means with k chosen by silhouette, a 2-D map, and top terms.

k is searched among a few values up to ~sqrt(n/2) (bounded to [2, 40]) and the one with the best
silhouette on a sample wins; k-means is faiss's, seeded, so runs are repeatable.
"""

from __future__ import annotations

import numpy as np

from curata.dedup.semantic import kmeans_centroids, nearest_centroids

MAX_K = 40
SILHOUETTE_SAMPLE = 3_000


def candidate_ks(n: int, max_k: int = MAX_K) -> list[int]:
    if n < 4:
        return [1]
    upper = int(min(max_k, max(2, round(np.sqrt(n / 2))), n - 1))
    lower = max(2, upper // 4)
    return sorted({round(k) for k in np.geomspace(lower, upper, num=min(6, upper - lower + 1))})


def assign(vectors: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cluster labels and centroids for k clusters."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int32), np.zeros((0, vectors.shape[1]), dtype=np.float32)
    if k <= 1:
        return np.zeros(len(vectors), dtype=np.int32), vectors.mean(axis=0, keepdims=True)
    centroids = kmeans_centroids(vectors, k, seed)
    return nearest_centroids(vectors, centroids, 1)[:, 0].astype(np.int32), centroids


def silhouette(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with cosine distance, for unit rows (one n × n product; n is a sample)."""
    x = np.asarray(vectors, dtype=np.float32)
    distance = 1.0 - x @ x.T
    clusters, index = np.unique(labels, return_inverse=True)
    onehot = np.zeros((len(x), len(clusters)), dtype=np.float32)
    onehot[np.arange(len(x)), index] = 1.0
    counts = onehot.sum(axis=0)
    sums = distance @ onehot
    own = counts[index]
    a = sums[np.arange(len(x)), index] / np.maximum(own - 1, 1)
    others = sums / counts
    others[np.arange(len(x)), index] = np.inf
    b = others.min(axis=1)
    s = np.where(own > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


def choose_k(vectors: np.ndarray, seed: int = 0, max_k: int = MAX_K) -> tuple[int, dict[int, float]]:
    """The candidate k with the highest silhouette (cosine) on a sample, and every k's score."""
    ks = candidate_ks(len(vectors), max_k)
    if ks == [1]:
        return 1, {}
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(vectors), min(len(vectors), SILHOUETTE_SAMPLE), replace=False)
    scores: dict[int, float] = {}
    for k in ks:
        labels, _ = assign(vectors[sample], k, seed)
        if len(np.unique(labels)) < 2:
            continue
        scores[k] = silhouette(vectors[sample], labels)
    if not scores:
        return 1, {}
    return max(scores, key=lambda k: (round(scores[k], 6), -k)), scores


def projection_2d(vectors: np.ndarray) -> np.ndarray:
    """Coordinates on the two principal axes (PCA from the d × d covariance, O(n d²))."""
    if len(vectors) == 0:
        return np.zeros((0, 2), dtype=np.float32)
    x = np.asarray(vectors, dtype=np.float64)
    mean = x.mean(axis=0)
    centred_x = x - mean
    _, eigenvectors = np.linalg.eigh(centred_x.T @ centred_x)
    axes = eigenvectors[:, ::-1][:, :2].T
    # Fix each axis's sign so the same data always gives the same picture.
    axes = axes * np.where(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)] < 0, -1.0, 1.0)[:, None]
    coords = centred_x @ axes.T
    if coords.shape[1] < 2:
        coords = np.hstack([coords, np.zeros((len(coords), 2 - coords.shape[1]))])
    return np.asarray(coords, dtype=np.float32)


def exemplars(
    vectors: np.ndarray, labels: np.ndarray, centroids: np.ndarray, per_cluster: int = 3
) -> dict[int, list[int]]:
    """For each cluster, the rows closest to its centroid."""
    out: dict[int, list[int]] = {}
    for c in range(len(centroids)):
        members = np.flatnonzero(labels == c)
        if len(members) == 0:
            continue
        sims = vectors[members] @ centroids[c]
        out[c] = members[np.argsort(-sims, kind="stable")[:per_cluster]].tolist()
    return out


def top_terms(texts: list[str], labels: np.ndarray, per_cluster: int = 6) -> dict[int, list[str]]:
    """Each cluster's most characteristic words by class-based TF-IDF (as in BERTopic): a word's
    share of the cluster's words times log(1 + average words per cluster / the word's total count),
    counting only words used by at least two of the cluster's records."""
    from sklearn.feature_extraction.text import CountVectorizer

    clusters = sorted(int(c) for c in np.unique(labels))
    vectorizer = CountVectorizer(stop_words="english", token_pattern=r"(?u)\b[^\W\d_]{3,}\b", lowercase=True)
    try:
        counts = vectorizer.fit_transform(texts).tocsr()
    except ValueError:  # no words at all
        return {c: [] for c in clusters}
    index = np.searchsorted(clusters, labels)
    onehot = np.zeros((len(clusters), len(texts)), dtype=np.float64)
    onehot[index, np.arange(len(texts))] = 1.0
    per_class = np.asarray(counts.T.dot(onehot.T).T)
    used_by = np.asarray((counts > 0).astype(np.float64).T.dot(onehot.T).T)
    totals = per_class.sum(axis=0)
    average = per_class.sum() / len(clusters)
    tf = per_class / np.maximum(per_class.sum(axis=1, keepdims=True), 1.0)
    score = tf * np.log1p(average / np.maximum(totals, 1.0))
    score[used_by < 2] = 0.0
    vocab = np.asarray(vectorizer.get_feature_names_out())
    out: dict[int, list[str]] = {}
    for row, c in enumerate(clusters):
        order = np.argsort(-score[row], kind="stable")[:per_cluster]
        out[c] = [str(vocab[i]) for i in order if score[row, i] > 0]
    return out
