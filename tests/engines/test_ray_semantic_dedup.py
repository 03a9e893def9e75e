"""semantic_dedup's distributed path (`ray_analyse`) gives the local `analyse` columns and summary
on a local Ray instance: k-means partitions with two assignments, oversized partitions split
again, one partition for a small set, centring with the exact set mean, quality picks; and a
whole run (embed + semantic_dedup) under both engines gives the same files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curata.checks.columns import message_column, related_column
from curata.embed.base import unit_rows
from curata.stages.embed import embedding_array
from curata.stages.semantic_dedup import SemanticDedup, SemanticDedupSettings
from tests.conftest import write_jsonl
from tests.engines.test_ray_engine import run_both
from tests.semantic.helpers import TableView

ray = pytest.importorskip("ray")
pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    from curata.engines.ray_engine import start_ray

    start_ray(1)
    yield
    ray.shutdown()


def table(n: int = 3000, dim: int = 32) -> pa.Table:
    """Clustered vectors (so k-means splits them, some partitions oversized) with near copies,
    exact copies and chains planted, an offset shared by all (so centring matters) and quality."""
    rng = np.random.default_rng(1)
    centres = unit_rows(rng.normal(size=(6, dim)))
    weights = np.array([0.5, 0.2, 0.1, 0.1, 0.05, 0.05])
    vectors = unit_rows(centres[rng.choice(6, n, p=weights)] + 0.35 * rng.normal(size=(n, dim)))
    for k in range(0, 900, 3):
        vectors[k + 1] = unit_rows((vectors[k] + 0.02 * rng.normal(size=dim))[None])[0]
        vectors[k + 2] = (
            vectors[k] if k % 2 else unit_rows((vectors[k + 1] + 0.02 * rng.normal(size=dim))[None])[0]
        )
    vectors = (vectors + 0.3).astype(np.float32)
    quality = rng.choice([0.2, 0.5, 0.9, np.nan], n).astype(np.float32)
    return pa.table(
        {
            "_row": pa.array(np.arange(n, dtype=np.int64)),
            "id": [f"r{i}" for i in range(n)],
            "embedding": embedding_array(vectors),
            "quality": pa.array(quality),
        }
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(("partition_size", "center"), [(100, True), (400, False), (5000, True)])
def test_distributed_semantic_dedup_equals_the_local_stage(
    local_ray: None, partition_size: int, center: bool
) -> None:
    data = table()
    settings = SemanticDedupSettings(threshold=0.97, center=center, partition_size=partition_size)
    stage = SemanticDedup(settings)
    stage.bind({name: data.schema.field(name).type for name in data.column_names}, ())
    local = stage.analyse(TableView(data), lambda _: None)
    rows = ray.data.from_arrow(data.select(["_row", *sorted(stage.reads())])).repartition(7)
    result = stage.ray_analyse(rows)
    assert result is not None, "semantic_dedup fell back to the driver"
    out = pa.concat_tables(ray.get(result.rows.to_arrow_refs())).sort_by("_row")
    assert out.column("_row").to_pylist() == data.column("_row").to_pylist()
    for name, dtype in stage.writes().items():
        assert out.column(name).cast(dtype).to_pylist() == local.columns[name].to_pylist(), name
    assert result.summarize is not None and result.summarize(TableView(out)) == local.summary
    assert local.summary["duplicates"] >= 300 and local.summary["pairs"] >= 600


SEMANTIC = """
stages:
  - normalize
  - exact_dedup
  - embed: {model: hashing}
  - semantic_dedup
"""


def texts(n: int) -> list[dict[str, str]]:
    """Distinct records (random words) with near-identical copies: every 10th record again with
    one word changed, every 25th again with one more changed, and exact copies."""
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(3000)]
    rows = []
    for _ in range(n):
        prompt = " ".join(rng.choice(words, 12))
        answer = " ".join(rng.choice(words, 60))
        rows.append({"instruction": prompt, "input": "", "output": answer})
    copies = []
    for i in range(0, n, 10):
        edited = rows[i]["output"].split()
        edited[i % 60] = "changed"
        copies.append({**rows[i], "output": " ".join(edited)})
        if i % 25 == 0:
            edited[(i + 7) % 60] = "again"
            copies.append({**rows[i], "output": " ".join(edited)})
        if i % 30 == 0:
            copies.append(rows[i])
    return rows + copies


def assert_same_semantic_signals(local: Path, ray_dir: Path) -> None:
    names = ["semantic_duplicate", "semantic_dup_cluster"]
    names += [message_column("semantic_duplicate"), related_column("semantic_duplicate")]
    a, b = (pq.read_table(d / "signals.parquet") for d in (local, ray_dir))
    for name in names:
        assert a.column(name).equals(b.column(name)), name
    assert (a.column("semantic_duplicate").to_numpy() > 0).sum() >= 100


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_ray_engine_matches_the_local_engine_with_semantic_dedup(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "in.jsonl", texts(1500))
    recipe = tmp_path / "semantic.yaml"
    recipe.write_text(SEMANTIC)
    local, ray_summary = run_both(data, tmp_path, recipe)
    assert local["stage_summaries"] == ray_summary["stage_summaries"]
    assert_same_semantic_signals(tmp_path / "local", tmp_path / "ray")
