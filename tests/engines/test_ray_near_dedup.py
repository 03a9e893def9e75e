"""near_dedup's distributed path (`ray_analyse`) gives the local `analyse` columns and summary,
on a local Ray instance: quality and exact-copy picks, chat keys, and verification rounds small
enough that the local skipping of joined pairs matters."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest

from curata.checks.columns import score_column
from curata.records import TURN_TYPE
from curata.stages.dedup_near import NearDedup, NearDedupSettings
from tests.dedup.test_near_stage import TableView
from tests.engines.near_data import near_rows

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    from curata.engines.ray_engine import start_ray

    start_ray(1)
    yield
    ray.shutdown()


def table(n_bases: int) -> pa.Table:
    rows = near_rows(n_bases)
    turns = [
        [{"role": "user", "content": r["instruction"]}, {"role": "assistant", "content": r["output"]}]
        for r in rows
    ]
    n = len(rows)
    rng = np.random.default_rng(3)
    quality = rng.choice([0.2, 0.5, 0.9, np.nan], n).astype(np.float32)
    exact = (np.arange(n) % 7 == 1).astype(np.float32)
    return pa.table(
        {
            "_row": pa.array(np.arange(n, dtype=np.int64)),
            "id": [f"r{i}" for i in range(n)],
            "turns": pa.array(turns, pa.list_(TURN_TYPE)),
            "quality": pa.array(quality),
            score_column("exact_duplicate"): pa.array(exact),
            score_column("exact_duplicate_response"): pa.array(exact[::-1].copy()),
        }
    )


def ray_columns(stage: NearDedup, data: pa.Table) -> tuple[pa.Table, dict[str, object]]:
    rows = ray.data.from_arrow(data.select(["_row", *sorted(stage.reads())])).repartition(5)
    result = stage.ray_analyse(rows)
    assert result is not None, "near_dedup fell back to the driver"
    out = pa.concat_tables(ray.get(result.rows.to_arrow_refs())).sort_by("_row")
    assert out.column("_row").to_pylist() == data.column("_row").to_pylist()
    names = list(stage.writes())
    written = out.select(names)
    typed = pa.table({n: written.column(n).cast(t) for n, t in stage.writes().items()})
    summary = result.summarize(TableView(typed)) if result.summarize else {}
    return typed, summary


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("key", ["conversation", "response"])
@pytest.mark.parametrize(("verify_pairs", "with_duplicates"), [(20_000, True), (7, True), (20_000, False)])
def test_distributed_near_dedup_equals_the_local_stage(
    local_ray: None, monkeypatch: pytest.MonkeyPatch, key: str, verify_pairs: int, with_duplicates: bool
) -> None:
    monkeypatch.setattr("curata.dedup.near.VERIFY_PAIRS", verify_pairs)
    monkeypatch.setattr("curata.dedup.near_ray.VERIFY_PAIRS", verify_pairs)
    data = table(60)
    if not with_duplicates:  # the first record of each base only: random words, no near copies
        data = data.filter(pa.array(np.arange(data.num_rows) % 8 == 0))
        data = data.set_column(0, "_row", pa.array(np.arange(data.num_rows, dtype=np.int64)))
    stage = NearDedup(NearDedupSettings(key=key))  # type: ignore[arg-type]
    stage.bind({name: data.schema.field(name).type for name in data.column_names}, ())
    assert stage.use_quality and stage.exact_column is not None
    local = stage.analyse(TableView(data), lambda _: None)
    distributed, summary = ray_columns(stage, data)
    for name in stage.writes():
        assert distributed.column(name).to_pylist() == local.columns[name].to_pylist(), name
    assert summary == local.summary
    assert (local.summary["duplicates"] > 0 and local.summary["verified_pairs"] > 0) == with_duplicates
