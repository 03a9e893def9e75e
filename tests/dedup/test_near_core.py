"""The near-duplicate core: shingles, signatures, LSH candidates, verification, clusters."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curata.dedup import candidates, lsh, minhash, near
from curata.dedup.lsh import bucket_pairs, merge_sorted_unique, unique_codes
from curata.dedup.near import NearDedupParams, find_near_duplicates, sketch
from curata.dedup.shingles import Shingles, shingle_texts
from curata.dedup.verify import jaccard_pairs

REAL = Path(__file__).resolve().parents[1] / "data" / "real" / "gsm8k_first1500.jsonl"


def shingles_of(texts: list[str], kind: str = "word", n: int = 2) -> Shingles:
    return shingle_texts(pa.array(texts, pa.large_string()), np.arange(len(texts)), len(texts), kind, n)  # type: ignore[arg-type]


def run(texts: list[str], params: NearDedupParams, batch: int = 500) -> near.NearDuplicates:
    def batches():  # type: ignore[no-untyped-def]
        for s in range(0, len(texts), batch):
            yield shingles_of(texts[s : s + batch], params.shingle, params.n)

    return find_near_duplicates(sketch(batches(), len(texts), params), params)


def python_jaccard(a: str, b: str, n: int = 2) -> float:
    def grams(text: str) -> set[tuple[str, ...]]:
        # Word characters as curata defines them: ASCII letters and digits, and any non-ASCII.
        words = "".join(c if (c.isalnum() or not c.isascii()) else " " for c in text.lower()).split()
        return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}

    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y)


def edit(text: str, rate: float, rng: random.Random, vocab: list[str]) -> str:
    out: list[str] = []
    for word in text.split():
        roll = rng.random()
        if roll >= rate:
            out.append(word)
        elif roll < rate / 2:
            out.append(rng.choice(vocab))
        elif roll < 3 * rate / 4:
            continue
        else:
            out.extend([word, rng.choice(vocab)])
    return " ".join(out)


def test_word_shingles_ignore_case_and_punctuation_and_stay_inside_records() -> None:
    sh = shingles_of(["The cat, sat!", "the CAT sat", "sat the"])
    first, second = sh.hashes[sh.offsets[0] : sh.offsets[1]], sh.hashes[sh.offsets[1] : sh.offsets[2]]
    assert list(sh.counts()) == [2, 2, 1]
    assert np.array_equal(first, second)
    # "sat the" is a shingle of record 2 only: no shingle spans the end of record 0 and record 1.
    assert sh.hashes[4] not in set(sh.hashes[:4].tolist())


def test_short_records_get_one_shingle_and_empty_ones_none() -> None:
    sh = shingles_of(["hello", "", "  ...  ", "two words here"], n=3)
    assert list(sh.counts()) == [1, 0, 0, 1]


def test_verified_jaccard_matches_a_python_reference() -> None:
    rng = random.Random(3)
    rows = [json.loads(line) for line in REAL.read_text(encoding="utf-8").splitlines()[:40]]
    texts = [r["instruction"] + " " + r["output"] for r in rows]
    vocab = sorted({w for t in texts for w in t.split()})
    texts += [edit(t, 0.2, rng, vocab) for t in texts[:20]]
    sh = shingles_of(texts)
    left = np.arange(20)
    right = np.arange(40, 60)
    got = jaccard_pairs(sh, left, right)
    want = [python_jaccard(texts[i], texts[j]) for i, j in zip(left, right, strict=True)]
    assert np.allclose(got, want, atol=1e-6)


def injected(rate_low: float, rate_high: float, copies: int, seed: int = 0) -> tuple[list[str], list[int]]:
    rng = random.Random(seed)
    rows = [json.loads(line) for line in REAL.read_text(encoding="utf-8").splitlines()]
    texts = [r["instruction"] + "\n\n" + r["output"] for r in rows]
    vocab = sorted({w for t in texts[:300] for w in t.split()})
    family = list(range(len(texts)))
    for _ in range(copies):
        src = rng.randrange(len(rows))
        texts.append(edit(texts[src], rng.uniform(rate_low, rate_high), rng, vocab))
        family.append(src)
    return texts, family


def test_recall_and_precision_on_real_text_with_5_to_15_percent_edits() -> None:
    texts, family = injected(0.05, 0.15, copies=300)
    found = run(texts, NearDedupParams())
    fam = np.array(family)
    n_orig = 1500
    copies = np.arange(n_orig, len(texts))
    recall = np.mean(found.labels[copies] == found.labels[fam[copies]])
    # Precision of removals: every verified pair joins records of one family, or of two real
    # GSM8K problems that are themselves near-identical (checked against the reference Jaccard).
    wrong = [(i, j) for i, j in zip(found.left, found.right, strict=True) if fam[i] != fam[j]]
    assert all(python_jaccard(texts[i], texts[j]) >= 0.5 for i, j in wrong)
    precision = 1 - len(wrong) / max(len(found.left), 1)
    assert recall >= 0.95, recall
    assert precision >= 0.95, precision


def test_an_lsh_candidate_under_the_threshold_is_never_a_duplicate() -> None:
    base = REAL.read_text(encoding="utf-8").splitlines()
    a = json.loads(base[0])["output"]
    words = a.split()
    b = " ".join(words[: len(words) // 2] + ["zebra"] * 3 + [w + "x" for w in words[len(words) // 2 :]])
    assert 0.2 < python_jaccard(a, b) < 0.5
    # One row per band and no signature pre-filter: the pair surely reaches verification.
    params = NearDedupParams(bands=128, rows=1, slack=1.0, threshold=0.5)
    found = run([a, b], params)
    assert found.candidates == 1
    assert len(found.left) == 0
    assert found.labels[0] != found.labels[1]
    # The same pair at a lower threshold is joined, with its true Jaccard.
    joined = run([a, b], NearDedupParams(bands=128, rows=1, slack=1.0, threshold=0.2))
    assert joined.jaccard[0] == pytest.approx(python_jaccard(a, b), abs=1e-6)


def test_a_huge_bucket_yields_linear_pairs_and_one_cluster() -> None:
    keys = np.zeros(2000, dtype=np.uint64)
    left, right = bucket_pairs(keys, np.arange(2000), window=8)
    assert len(left) <= 2000 * 9
    assert np.all(left < right)
    assert set(np.concatenate([left, right]).tolist()) == set(range(2000))
    text = " ".join(json.loads(REAL.read_text(encoding="utf-8").splitlines()[0])["output"].split())
    found = run([text] * 300, NearDedupParams())
    assert len(set(found.labels.tolist())) == 1
    assert len(found.left) <= 300 * 9 * 2


@pytest.mark.parametrize("method", ["oph", "permutations"])
def test_signature_estimates_track_jaccard(method: str) -> None:
    texts, family = injected(0.05, 0.3, copies=60, seed=5)
    params = NearDedupParams(method=method)  # type: ignore[arg-type]
    sk = sketch([shingles_of(texts)], len(texts), params)
    copies = np.arange(1500, len(texts))
    originals = np.array(family[1500:])
    est = (sk.signatures[copies] == sk.signatures[originals]).mean(axis=1)
    true = jaccard_pairs(sk.shingles.rows(np.arange(len(texts))), copies, originals)
    assert np.mean(np.abs(est - true)) < 0.05


def test_results_are_identical_across_runs_batchings_and_memory_maps(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    texts, _ = injected(0.05, 0.15, copies=100, seed=9)
    params = NearDedupParams()
    first = run(texts, params, batch=500)
    second = run(texts, params, batch=333)
    monkeypatch.setattr(near, "MEMMAP_BYTES", 0)
    # Memory-mapped signatures read and released a few rows at a time.
    monkeypatch.setattr(lsh, "MAPPED_ROWS", 300)
    monkeypatch.setattr(minhash, "RELEASE_CHUNKS", 1)
    sk = sketch([shingles_of(texts)], len(texts), params, tmp_path / "scratch")
    assert isinstance(sk.signatures, np.memmap)
    third = find_near_duplicates(sk, params)
    # Candidate pairs spilled to disk in low-row ranges and estimate levels: the same order.
    monkeypatch.setattr(candidates, "RANGE_PAIRS", 5000)
    spilled = []
    real_ordered = near.ordered_candidates

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        ordered = real_ordered(*args, **kwargs)
        spilled.append((ordered, len(list((ordered.folder / "levels").iterdir()))))
        return ordered

    monkeypatch.setattr(near, "ordered_candidates", spy)
    fourth = find_near_duplicates(sk, params)
    ordered, level_files = spilled[0]
    assert level_files > 3
    assert not ordered.folder.exists()
    assert first.candidates == fourth.candidates
    for other in (second, third, fourth):
        assert np.array_equal(first.labels, other.labels)
        assert np.array_equal(first.left, other.left) and np.array_equal(first.jaccard, other.jaccard)


def test_char_shingles_find_edited_copies() -> None:
    texts, family = injected(0.05, 0.1, copies=50, seed=2)
    found = run(texts[1400:], NearDedupParams(shingle="char", n=5, threshold=0.5))
    fam = np.array(family[1400:])
    copies = np.arange(100, len(fam))
    originals = fam[copies] - 1400
    inside = originals >= 0
    assert np.mean(found.labels[copies[inside]] == found.labels[originals[inside]]) >= 0.9


def test_streamed_candidate_pairs_equal_the_one_shot_distinct_pairs() -> None:
    rng = np.random.default_rng(3)
    n = 5000
    parts = []
    for _ in range(12):
        left = rng.integers(0, n - 1, size=4000)
        parts.append((left, left + rng.integers(1, 50, size=4000).clip(max=n - 1 - left)))
    everything = np.concatenate([a * n + b for a, b in parts])
    expected = np.unique(everything)
    for flush in (1, 3000, 10_000, 1 << 30):
        assert np.array_equal(unique_codes(iter(parts), n, flush=flush), expected), flush
    a, b = np.array([1, 4, 9]), np.array([0, 4, 5, 10])
    assert merge_sorted_unique(a, b).tolist() == [0, 1, 4, 5, 9, 10]


def test_incremental_union_gives_the_components_of_all_edges_so_far() -> None:
    rng = np.random.default_rng(4)
    n = 3000
    roots = np.arange(n, dtype=np.int64)
    seen_l: list[np.ndarray] = []
    seen_r: list[np.ndarray] = []
    for size in (1, 50, 400, 0, 1500, 7):
        left = rng.integers(0, n, size=size)
        right = rng.integers(0, n, size=size)
        seen_l.append(left)
        seen_r.append(right)
        if size:
            roots = near.merge_roots(roots, left, right)
        labels = near.components(n, np.concatenate(seen_l), np.concatenate(seen_r))
        # Same partition, and each root is the lowest row of its component.
        first_of = np.full(labels.max() + 1, n)
        np.minimum.at(first_of, labels, np.arange(n))
        assert np.array_equal(roots, first_of[labels])
