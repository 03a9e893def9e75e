"""Must-show: semantic_duplicate on MRPC paraphrase pairs (Dolan & Brockett 2005).

Every distinct sentence of the chosen MRPC split becomes one record; `curata run` embeds them and
runs `semantic_dedup`; a pair counts as found when both sentences land in the same
`semantic_dup_cluster`. Prints pair recall on paraphrase pairs and the false-positive rate on
non-paraphrase pairs (MRPC's negatives are hard: high word overlap, different meaning), for the
fast and MiniLM embedders, at the stage's threshold and over a sweep computed from the same
embeddings with the stage's own pair search and union-find.

    .venv/bin/python benchmarks/semantic_mrpc.py [--data-dir ../shared/data] [--split test]
        [--models fast minilm] [--threshold 0.95 --threshold-minilm 0.9]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from curata.dedup.semantic import centred, components, similar_pairs
from curata_run import run_recipe

SWEEP = (0.8, 0.85, 0.9, 0.95, 0.97)


def read_pairs(path: Path) -> tuple[dict[str, str], list[tuple[str, str, int]]]:
    sentences: dict[str, str] = {}
    pairs = []
    with open(path, encoding="utf-8-sig", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) != 5 or not row[0].isdigit():
                continue
            quality, a, b, text_a, text_b = row
            sentences.setdefault(a, text_a)
            sentences.setdefault(b, text_b)
            pairs.append((a, b, int(quality)))
    return sentences, pairs


def pair_rates(clusters: dict[str, int], pairs: list[tuple[str, str, int]]) -> tuple[float, float]:
    same = np.array([clusters[a] >= 0 and clusters[a] == clusters[b] for a, b, _ in pairs])
    label = np.array([q for _, _, q in pairs]) == 1
    return float(same[label].mean()), float(same[~label].mean())


def run_curata(records: Path, model: str, threshold: float, out: Path) -> float:
    recipe = out.parent / f"recipe-{model}.yaml"
    recipe.write_text(
        "name: mrpc\nstages:\n  - normalize\n"
        f"  - embed: {{model: {model}, key: prompt}}\n"
        f"  - semantic_dedup: {{threshold: {threshold}}}\n  - decide\n"
    )
    start = time.perf_counter()
    run_recipe(records, out, recipe)
    return time.perf_counter() - start


def main() -> None:
    here = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=here.parent.parent / "shared" / "data")
    parser.add_argument("--split", choices=("train", "test"), default="test")
    parser.add_argument("--models", nargs="+", default=["fast", "minilm"])
    parser.add_argument("--threshold", type=float, default=0.95, help="semantic_dedup threshold (fast)")
    parser.add_argument("--threshold-minilm", type=float, default=0.9)
    args = parser.parse_args()

    sentences, pairs = read_pairs(args.data_dir / "mrpc" / f"msr_paraphrase_{args.split}.txt")
    positives = sum(q for _, _, q in pairs)
    print(
        f"MRPC {args.split}: {len(pairs):,} pairs ({positives:,} paraphrases), {len(sentences):,} sentences"
    )
    with tempfile.TemporaryDirectory() as tmp:
        records = Path(tmp) / "mrpc.jsonl"
        with open(records, "w", encoding="utf-8") as handle:
            for sid, text in sentences.items():
                handle.write(json.dumps({"id": sid, "instruction": text, "output": ""}) + "\n")
        for model in args.models:
            threshold = args.threshold_minilm if model == "minilm" else args.threshold
            out = Path(tmp) / f"out-{model}"
            seconds = run_curata(records, model, threshold, out)
            table = pq.read_table(
                out / "signals.parquet", columns=["id", "semantic_dup_cluster", "embedding"]
            )
            ids = table.column("id").to_pylist()
            clusters = dict(zip(ids, table.column("semantic_dup_cluster").to_pylist(), strict=True))
            recall, fpr = pair_rates(clusters, pairs)
            print(f"\n[{model}] curata run {seconds:.1f}s; semantic_dedup threshold {threshold}:")
            print(f"  paraphrase pair recall {recall:.3f}   non-paraphrase false-positive rate {fpr:.3f}")
            width = table.column("embedding").type.list_size
            flat = table.column("embedding").combine_chunks().flatten().to_numpy(zero_copy_only=False)
            vectors = centred(np.asarray(flat, dtype=np.float32).reshape(-1, width))
            print("  sweep (same embeddings, same pair search and union-find):")
            for t in SWEEP:
                labels = components(len(ids), similar_pairs(vectors, t))
                sizes = np.bincount(labels)[labels]
                swept = {i: (int(c) if s > 1 else -1) for i, c, s in zip(ids, labels, sizes, strict=True)}
                r, f = pair_rates(swept, pairs)
                print(f"    threshold {t:.2f}: recall {r:.3f}  false-positive rate {f:.3f}")


if __name__ == "__main__":
    main()
