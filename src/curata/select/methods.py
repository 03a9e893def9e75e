"""Choosing a subset for a budget, maximising quality and diversity.

- `deita_select`: DEITA's score-first, diversity-aware selection (Liu et al. 2024, "What Makes
  Good Data for Alignment?", Algorithm 1): walk records by descending score and add one only if
  its highest cosine similarity to the records already selected is under the threshold. Unlike
  thresholding every record's nearest neighbour over the whole set, it never drops both members
  of a near-duplicate pair and it fills the budget whenever enough distinct records exist.
- `spread_select` (the select stage's default): the same redundancy filter, but each step takes the
  candidate with the best sum of standardised quality and standardised marginal gains in the
  selection's mean pairwise cosine distance and order-2 Vendi score (a maximal-marginal-relevance
  walk, Carbonell & Goldstein 1998), so score-first selection does not pile into the one topic the
  scorer favours. Weight 0 is DEITA.
- `k_center_greedy`: farthest-point selection (Sener & Savarese 2018), pure coverage.
- `stratified_quota`: per-label or per-cluster quotas with caps, for balance.

Embeddings are L2-normalised rows; every function returns selected row indices in selection
order and is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEITA_BLOCK = 512


def as_unit(embeddings: np.ndarray) -> np.ndarray:
    vectors = np.asarray(embeddings, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def score_order(scores: np.ndarray) -> np.ndarray:
    """Descending score; ties broken by row number so the walk is deterministic."""
    rows = np.arange(len(scores))
    return np.asarray(np.lexsort((rows, -np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf))))


def deita_select(
    scores: np.ndarray,
    embeddings: np.ndarray,
    budget: int,
    threshold: float = 0.9,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """DEITA's Repr Filter: greedy by score, skipping records too similar to those already chosen.

    Candidates are scored in blocks with one matrix product against the selection so far, then
    resolved in order inside the block, which gives exactly the one-by-one walk's result.
    """
    vectors = as_unit(embeddings)
    order = score_order(scores)
    if candidates is not None:
        allowed = np.zeros(len(scores), dtype=bool)
        allowed[candidates] = True
        order = order[allowed[order]]
    chosen: list[int] = []
    chosen_vectors = np.zeros((0, vectors.shape[1]), dtype=np.float32)
    for start in range(0, len(order), DEITA_BLOCK):
        if len(chosen) >= budget:
            break
        block = order[start : start + DEITA_BLOCK]
        block_vectors = vectors[block]
        to_chosen = (block_vectors @ chosen_vectors.T).max(axis=1) if chosen else np.full(len(block), -np.inf)
        within = block_vectors @ block_vectors.T
        accepted_in_block: list[int] = []
        for i, row in enumerate(block):
            if len(chosen) >= budget:
                break
            if to_chosen[i] >= threshold:
                continue
            if accepted_in_block and within[i, accepted_in_block].max() >= threshold:
                continue
            accepted_in_block.append(i)
            chosen.append(int(row))
        if accepted_in_block:
            chosen_vectors = np.vstack([chosen_vectors, block_vectors[accepted_in_block]])
    return np.asarray(chosen, dtype=np.int64)


def standardised(values: np.ndarray) -> np.ndarray:
    """Values in standard deviations from their mean (all zeros when they do not vary)."""
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-12 else np.zeros_like(values)


def spread_select(
    scores: np.ndarray,
    embeddings: np.ndarray,
    budget: int,
    threshold: float = 0.9,
    weight: float = 1.0,
) -> np.ndarray:
    """DEITA's filter (never two records with cosine >= threshold) with a quality/diversity blend.

    Adding x to a selection S raises the sum of pairwise cosine distances by |S| (1 - mean_s x.s)
    and the sum of squared cosines, whose inverse is the order-2 Vendi score, by 1 + 2 sum_s (x.s)^2.
    So a candidate's mean cosine and mean squared cosine to S are its exact marginal costs on the
    two diversity measures. Each step takes the open candidate maximising
        z(score) + weight * (z(-mean cosine to S) + z(-mean squared cosine to S)),
    each z in standard deviations over the open candidates, so no term's units decide; ties go to
    the lower row. With weight 0 this is DEITA's walk. Cost: one n x d product per selected record.
    """
    if weight == 0:
        return deita_select(scores, embeddings, budget, threshold)
    vectors = as_unit(embeddings)
    n = len(vectors)
    values = np.asarray(scores, dtype=np.float64)
    if np.isnan(values).any():
        values = np.nan_to_num(values, nan=float(np.nanmin(values)) if not np.isnan(values).all() else 0.0)
    open_rows = np.ones(n, dtype=bool)
    max_sim = np.full(n, -np.inf, dtype=np.float32)
    cosine_sum = np.zeros(n, dtype=np.float64)
    squared_sum = np.zeros(n, dtype=np.float64)
    chosen: list[int] = []
    while len(chosen) < budget:
        candidates = np.flatnonzero(open_rows & (max_sim < threshold))
        if len(candidates) == 0:
            break
        gain = standardised(values[candidates])
        if chosen:
            spread = standardised(-cosine_sum[candidates]) + standardised(-squared_sum[candidates])
            gain = gain + weight * spread
        row = int(candidates[int(np.argmax(gain))])
        chosen.append(row)
        open_rows[row] = False
        sims = vectors @ vectors[row]
        cosine_sum += sims
        squared_sum += np.square(sims, dtype=np.float64)
        np.maximum(max_sim, sims, out=max_sim)
    return np.asarray(chosen, dtype=np.int64)


def k_center_greedy(
    embeddings: np.ndarray, budget: int, *, first: int | None = None, scores: np.ndarray | None = None
) -> np.ndarray:
    """Repeatedly add the record farthest (in cosine distance) from everything selected so far.

    Starts from `first`, else the best-scoring record, else row 0.
    """
    vectors = as_unit(embeddings)
    n = len(vectors)
    if n == 0 or budget <= 0:
        return np.zeros(0, dtype=np.int64)
    if first is None:
        first = int(score_order(scores)[0]) if scores is not None else 0
    chosen = [first]
    distance = 1.0 - vectors @ vectors[first]
    distance[first] = -np.inf
    while len(chosen) < min(budget, n):
        nxt = int(np.argmax(distance))
        if not np.isfinite(distance[nxt]):
            break
        chosen.append(nxt)
        distance = np.minimum(distance, 1.0 - vectors @ vectors[nxt])
        distance[chosen] = -np.inf
    return np.asarray(chosen, dtype=np.int64)


def quotas(group_sizes: dict[str, int], budget: int, *, balance: bool, cap: int | None) -> dict[str, int]:
    """How many records each group gets: proportional to its size, or equal shares when balancing,
    never more than it has or than the cap; leftover budget goes to groups with room, largest first."""
    groups = sorted(group_sizes)
    limit = {g: min(group_sizes[g], cap if cap is not None else group_sizes[g]) for g in groups}
    total = sum(group_sizes.values())
    share = {
        g: (budget / len(groups) if balance else budget * group_sizes[g] / max(total, 1)) for g in groups
    }
    alloc = {g: min(limit[g], int(share[g])) for g in groups}
    remaining = budget - sum(alloc.values())
    while remaining > 0:
        open_groups = [g for g in groups if alloc[g] < limit[g]]
        if not open_groups:
            break
        open_groups.sort(key=lambda g: (-(share[g] - alloc[g]), g))
        for g in open_groups:
            if remaining == 0:
                break
            alloc[g] += 1
            remaining -= 1
    return alloc


def stratified_quota(
    groups: Sequence[str | None],
    scores: np.ndarray,
    budget: int,
    *,
    balance: bool = False,
    cap: int | None = None,
    embeddings: np.ndarray | None = None,
    threshold: float = 0.9,
) -> np.ndarray:
    """Fill each group's quota with its best records (DEITA within the group when embeddings are given)."""
    labels = np.asarray([g if g is not None else "(none)" for g in groups], dtype=object)
    names, counts = np.unique(labels, return_counts=True)
    alloc = quotas(
        {str(n): int(c) for n, c in zip(names, counts, strict=True)}, budget, balance=balance, cap=cap
    )
    chosen: list[np.ndarray] = []
    for name in sorted(alloc):
        members = np.flatnonzero(labels == name)
        if embeddings is not None:
            picked = deita_select(scores, embeddings, alloc[name], threshold, candidates=members)
        else:
            picked = members[score_order(np.asarray(scores)[members])][: alloc[name]]
        chosen.append(picked)
    merged = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
    return np.asarray(merged[score_order(np.asarray(scores)[merged])])
