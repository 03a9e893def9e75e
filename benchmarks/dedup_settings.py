"""How the near-dedup defaults were chosen: recall and precision of several shingle / threshold /
band settings on the benchmark set (benchmarks/dedup_data.py, 5-15% of words edited).

    python benchmarks/dedup_settings.py --n 20000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from curata.dedup.near import NearDedupParams, find_near_duplicates, sketch
from curata.dedup.shingles import shingle_texts
from dedup import DEFAULT_DATA, score
from dedup_data import build

SETTINGS = [
    {"shingle": "word", "n": 1, "threshold": 0.6},
    {"shingle": "word", "n": 2, "threshold": 0.5},
    {"shingle": "word", "n": 2, "threshold": 0.4},
    {"shingle": "word", "n": 3, "threshold": 0.35},
    {"shingle": "word", "n": 5, "threshold": 0.25},
    {"shingle": "char", "n": 5, "threshold": 0.5},
    {"shingle": "word", "n": 2, "threshold": 0.5, "bands": 32, "rows": 4},
    {"shingle": "word", "n": 2, "threshold": 0.5, "bands": 16, "rows": 8},
    {"shingle": "word", "n": 2, "threshold": 0.5, "method": "permutations"},
]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    texts, family, kind = build(args.data, args.n)
    column = pa.array(texts, pa.large_string())
    fam, kinds = np.array(family), np.array(kind)
    for setting in SETTINGS:
        params = NearDedupParams(**setting)  # type: ignore[arg-type]
        start, cpu = time.perf_counter(), time.process_time()
        batches = (
            shingle_texts(
                column.slice(s, 10_000),
                np.arange(min(10_000, args.n - s)),
                min(10_000, args.n - s),
                params.shingle,
                params.n,
            )
            for s in range(0, args.n, 10_000)
        )
        found = find_near_duplicates(sketch(batches, args.n, params), params)
        cpu = time.process_time() - cpu
        metrics = score(found.labels, fam, kinds)
        label = " ".join(f"{k}={v}" for k, v in setting.items())
        print(
            f"{label:60s} recall near {metrics['recall_near']:.3f}  precision {metrics['precision']:.4f}  "
            f"candidates {found.candidates:9,d}  {args.n / cpu:7,.0f} docs/CPU-s "
            f"({time.perf_counter() - start:.1f}s wall)",
            flush=True,
        )


if __name__ == "__main__":
    main()
