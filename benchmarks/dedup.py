"""Near-duplicate benchmark: curata against datasketch and rensa, in one run, on the same data.

    python benchmarks/dedup.py                     # 100k documents (see docs/dedup.md)
    python benchmarks/dedup.py --n 1000000 --only ours --exact   # exact + near at 1M

The set is built from real text (benchmarks/dedup_data.py) with injected exact copies and near
copies (5-15% of words edited); the truth is each document's original. Each contender runs in its
own subprocess, timed from texts-in-memory to clusters (wall clock and process CPU time: on a
shared machine the CPU time is the steadier of the two), and reports its own peak RSS
(`ru_maxrss`). Scored against the truth on the clusters each contender's pairs form (union-find,
first member kept): recall = injected copies clustered with their original; precision = removed
documents whose kept representative is from the same family.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup_data import build

WORD = re.compile(r"\w+")
DEFAULT_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n)).tocsr()
    return np.asarray(connected_components(graph, directed=False)[1])


def python_shingles(text: str, n: int) -> list[str]:
    words = WORD.findall(text.lower())
    if len(words) < n:
        return [" ".join(words)] if words else []
    return [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]


# ---- contenders (each runs in a child process) -------------------------------------------------


def run_ours(column: Any, args: argparse.Namespace) -> np.ndarray:
    from curata.dedup.near import NearDedupParams, find_near_duplicates, sketch
    from curata.dedup.shingles import shingle_texts

    params = NearDedupParams(
        shingle=args.shingle,
        n=args.ngram,
        threshold=args.threshold,
        bands=args.bands,
        rows=args.rows,
        method=args.method,
    )
    n = len(column)
    batch = 10_000

    def batches():  # type: ignore[no-untyped-def]
        for s in range(0, n, batch):
            part = column.slice(s, min(batch, n - s))
            yield shingle_texts(part, np.arange(len(part)), len(part), params.shingle, params.n)

    scratch = Path(args.work) / "scratch" if n > 200_000 else None
    from functools import partial

    from curata.stages.dedup_exact import representatives

    # The stage's clusters: chains split into stars around the first record (no quality column).
    pick = partial(representatives, quality=None)
    found = find_near_duplicates(sketch(batches(), n, params, scratch), params, pick=pick)
    labels = found.labels
    if args.exact:
        from curata.normalize import normalized_digest
        from curata.stages.dedup_exact import group_keys

        digests = np.frombuffer(
            b"".join(
                normalized_digest(t) for s in range(0, n, batch) for t in column.slice(s, batch).to_pylist()
            ),
            dtype=np.uint8,
        ).reshape(-1, 16)
        exact_groups = group_keys(digests)
        order = np.argsort(exact_groups, kind="stable")
        same = exact_groups[order][1:] == exact_groups[order][:-1]
        labels = components(
            n, np.concatenate([found.left, order[:-1][same]]), np.concatenate([found.right, order[1:][same]])
        )
    return labels


def run_datasketch(texts: list[str], args: argparse.Namespace) -> np.ndarray:
    from datasketch import MinHash, MinHashLSH

    perms = 128
    sets = [[s.encode("utf-8") for s in python_shingles(t, args.ngram)] for t in texts]
    hashes = MinHash.bulk(sets, num_perm=perms)
    lsh = MinHashLSH(threshold=args.lib_threshold, num_perm=perms)
    with lsh.insertion_session() as session:
        for i, m in enumerate(hashes):
            session.insert(i, m)
    left, right = [], []
    for i, m in enumerate(hashes):
        for j in lsh.query(m):
            if j > i and m.jaccard(hashes[j]) >= args.threshold:
                left.append(i)
                right.append(j)
    return components(len(texts), np.array(left, dtype=np.int64), np.array(right, dtype=np.int64))


def run_rensa(texts: list[str], args: argparse.Namespace) -> np.ndarray:
    from rensa import RMinHash, RMinHashLSH

    perms = 128
    sets = [python_shingles(t, args.ngram) for t in texts]
    hashes = RMinHash.from_token_sets(sets, perms, 42)
    lsh = RMinHashLSH(args.lib_threshold, perms, args.lib_bands)
    for i, m in enumerate(hashes):
        lsh.insert(i, m)
    left, right = [], []
    for i, m in enumerate(hashes):
        for j in lsh.query(m):
            if j > i and m.jaccard(hashes[j]) >= args.threshold:
                left.append(i)
                right.append(j)
    return components(len(texts), np.array(left, dtype=np.int64), np.array(right, dtype=np.int64))


CONTENDERS: dict[str, Any] = {"ours": run_ours, "datasketch": run_datasketch, "rensa": run_rensa}


def child(args: argparse.Namespace) -> None:
    import pyarrow.parquet as pq

    column = pq.read_table(args.texts).column("text").combine_chunks()
    # Ours reads Arrow text (as the stage does); the libraries take Python strings, made untimed.
    data = column if args.child == "ours" else column.to_pylist()
    start, cpu_start = time.perf_counter(), time.process_time()
    labels = CONTENDERS[args.child](data, args)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    np.save(args.result + ".npy", labels)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    Path(args.result).write_text(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "peak_rss": rss}))


# ---- scoring -----------------------------------------------------------------------------------


def score(labels: np.ndarray, family: np.ndarray, kind: np.ndarray) -> dict[str, float]:
    n = len(labels)
    original_of_family = np.full(family.max() + 1, -1)
    originals = np.flatnonzero(kind == "original")
    original_of_family[family[originals]] = originals
    out: dict[str, float] = {}
    for k in ("near", "exact"):
        copies = np.flatnonzero(kind == k)
        out[f"recall_{k}"] = float(np.mean(labels[copies] == labels[original_of_family[family[copies]]]))
    order = np.lexsort((np.arange(n), labels))
    first = np.ones(n, dtype=bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    kept_at = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    kept_of = np.empty(n, dtype=np.int64)
    kept_of[order] = order[kept_at]
    removed = np.flatnonzero(kept_of != np.arange(n))
    good = family[removed] == family[kept_of[removed]]
    out["removed"] = float(len(removed))
    out["precision"] = float(good.mean()) if len(removed) else 1.0
    return out


def run_child(
    name: str, texts_file: Path, work: Path, args: argparse.Namespace, extra: list[str]
) -> dict[str, Any]:
    result = work / f"{name}.json"
    cmd = [
        sys.executable,
        __file__,
        "--child",
        name,
        "--texts",
        str(texts_file),
        "--result",
        str(result),
        "--work",
        str(work),
        "--ngram",
        str(args.ngram),
        "--threshold",
        str(args.threshold),
        "--shingle",
        args.shingle,
        "--bands",
        str(args.bands),
        "--rows",
        str(args.rows),
        "--method",
        args.method,
        *extra,
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    subprocess.run(cmd, check=True, env=env)
    out: dict[str, Any] = json.loads(result.read_text())
    out["labels"] = np.load(str(result) + ".npy")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--only", default="ours,datasketch,rensa")
    parser.add_argument("--exact", action="store_true", help="ours: exact dedup too (the 1M run)")
    parser.add_argument("--shingle", default="word")
    parser.add_argument("--ngram", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--bands", type=int, default=42)
    parser.add_argument("--rows", type=int, default=3)
    parser.add_argument("--method", default="oph")
    parser.add_argument(
        "--lib-thresholds",
        default="0.5,0.4,0.3",
        help="LSH thresholds tried for the libraries (on --tune-n docs); the lowest "
        "one reaching our recall is used",
    )
    parser.add_argument("--tune-n", type=int, default=10_000)
    parser.add_argument("--child")
    parser.add_argument("--texts")
    parser.add_argument("--result")
    parser.add_argument("--work", default="")
    parser.add_argument("--lib-threshold", type=float, default=0.5)
    parser.add_argument("--lib-bands", type=int, default=16)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory(prefix="curata-dedup-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        texts, family_list, kind_list = build(args.data, args.n)
        family, kind = np.array(family_list), np.array(kind_list)
        texts_file = work / "texts.parquet"
        write_texts(texts_file, texts)
        mean_bytes = sum(len(t.encode()) for t in texts) / len(texts)
        print(
            f"built {len(texts):,} docs ({mean_bytes:.0f} bytes mean) in {time.perf_counter() - t0:.0f}s: "
            f"{int((kind == 'exact').sum()):,} exact and {int((kind == 'near').sum()):,} near copies"
        )
        print(
            f"shingles: {args.shingle} {args.ngram}-grams; verification / estimate threshold {args.threshold}"
        )
        rows: dict[str, dict[str, Any]] = {}
        for name in args.only.split(","):
            extra: list[str] = []
            if args.exact and name == "ours":
                extra.append("--exact")
            if name != "ours":
                extra += tune_library(name, texts, family, kind, work, args, rows.get("ours"))
            res = run_child(name, texts_file, work, args, extra)
            metrics = score(res["labels"], family, kind)
            rows[name] = {
                "docs_per_s": len(texts) / res["seconds"],
                "docs_per_cpu_s": len(texts) / res["cpu_seconds"],
                "seconds": res["seconds"],
                "cpu_seconds": res["cpu_seconds"],
                "peak_rss_mib": res["peak_rss"] / 2**20,
                **metrics,
                "settings": " ".join(extra),
            }
            r = rows[name]
            print(
                f"{name:11s} {r['docs_per_s']:9,.0f} docs/s ({r['seconds']:.1f}s wall)  "
                f"{r['docs_per_cpu_s']:9,.0f} docs/CPU-s ({r['cpu_seconds']:.1f}s CPU)  peak RSS "
                f"{r['peak_rss_mib']:6,.0f} MiB  recall near {r['recall_near']:.3f} exact "
                f"{r['recall_exact']:.3f}  precision {r['precision']:.4f}  removed {r['removed']:,.0f}  "
                f"{r['settings']}",
                flush=True,
            )
        for other in ("datasketch", "rensa"):
            if "ours" in rows and other in rows:
                wall = rows["ours"]["docs_per_s"] / rows[other]["docs_per_s"]
                cpu = rows["ours"]["docs_per_cpu_s"] / rows[other]["docs_per_cpu_s"]
                print(f"ours/{other}: {wall:.1f}x docs/s (wall), {cpu:.1f}x docs per CPU-second")


def tune_library(
    name: str,
    texts: list[str],
    family: np.ndarray,
    kind: np.ndarray,
    work: Path,
    args: argparse.Namespace,
    ours: dict[str, Any] | None,
) -> list[str]:
    """The library's LSH threshold, tried on a sample: the highest of --lib-thresholds whose recall
    reaches ours, or (when none does) comes within 0.002 of the best it reaches; for rensa, bands
    matched to that threshold."""
    sample = min(args.tune_n, len(texts))
    sample_file = work / f"tune-{name}.parquet"
    write_texts(sample_file, texts[:sample])
    # Copies whose original fell outside the sample are not scored.
    in_sample = np.isin(family[:sample], family[:sample][kind[:sample] == "original"])
    keep = in_sample
    recalls: dict[float, float] = {}
    for value in sorted((float(v) for v in args.lib_thresholds.split(",")), reverse=True):
        res = run_child(name, sample_file, work, args, lib_settings(value))
        metrics = score(res["labels"][keep], remap(family[:sample][keep]), kind[:sample][keep])
        recalls[value] = metrics["recall_near"]
        print(f"  tune {name} lsh threshold {value}: recall near {recalls[value]:.3f} on {sample:,} docs")
    target = min(ours["recall_near"] if ours else 0.95, max(recalls.values()) - 0.002)
    chosen = max(v for v, r in recalls.items() if r >= target)
    return lib_settings(chosen)


def write_texts(path: Path, texts: list[str]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": pa.array(texts, pa.large_string())}), path)


def lib_settings(threshold: float) -> list[str]:
    return ["--lib-threshold", str(threshold), "--lib-bands", str(bands_for(threshold))]


def remap(fam: np.ndarray) -> np.ndarray:
    """Family numbers of a sample renumbered densely (they index arrays in `score`)."""
    _, dense = np.unique(fam, return_inverse=True)
    return np.asarray(dense)


def bands_for(threshold: float, perms: int = 128) -> int:
    """The band count whose S-curve midpoint (1/b)^(1/r) is closest to the threshold."""
    best, best_err = 16, 1.0
    for b in range(1, perms + 1):
        if perms % b:
            continue
        r = perms // b
        err = abs((1 / b) ** (1 / r) - threshold)
        if err < best_err:
            best, best_err = b, err
    return best


if __name__ == "__main__":
    main()
