"""Round trips: every format through every file type comes back exactly as it went in (plus its
id), and conversion between formats keeps the conversation, the label and the unknown fields."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curata.formats import FORMATS, get_format
from curata.formats.export import export_record
from curata.ingest import IngestOptions, ingest
from curata.inputs import discover
from curata.records import Role, Turn

# Any Unicode but lone surrogates (not encodable as UTF-8): control characters, emoji, RTL, combining.
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
PLAIN = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=30)
JSON_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON_VALUE = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(PLAIN, inner, max_size=3),
    max_leaves=8,
)
EXTRA_KEYS = st.sampled_from(["meta", "source_url", "tags", "score", "category_hint", "注释", "x-trace"])
EXTRAS = st.dictionaries(EXTRA_KEYS, JSON_VALUE, max_size=3)


def alternating(draw: Any, n_pairs: int) -> list[tuple[str, str]]:
    return [(draw(TEXT), draw(TEXT)) for _ in range(n_pairs)]


@st.composite
def alpaca(draw: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"instruction": draw(TEXT), "input": draw(TEXT), "output": draw(TEXT)}
    if draw(st.booleans()):
        obj["system"] = draw(TEXT)
    if draw(st.booleans()):
        obj["history"] = [list(p) for p in alternating(draw, draw(st.integers(0, 2)))]
    return obj


@st.composite
def dolly(draw: Any) -> dict[str, Any]:
    return {"instruction": draw(TEXT), "context": draw(TEXT), "response": draw(TEXT), "category": draw(PLAIN)}


@st.composite
def sharegpt(draw: Any) -> dict[str, Any]:
    turns = []
    for q, a in alternating(draw, draw(st.integers(1, 3))):
        turns += [{"from": "human", "value": q}, {"from": "gpt", "value": a}]
    obj: dict[str, Any] = {"conversations": turns}
    if draw(st.booleans()):
        obj["system"] = draw(TEXT)
    return obj


@st.composite
def messages(draw: Any) -> dict[str, Any]:
    turns = [{"role": "system", "content": draw(TEXT)}] if draw(st.booleans()) else []
    for q, a in alternating(draw, draw(st.integers(1, 3))):
        turns += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    obj: dict[str, Any] = {"messages": turns}
    if draw(st.booleans()):
        obj["label"] = draw(st.booleans() | PLAIN)
    return obj


@st.composite
def prompt_completion(draw: Any) -> dict[str, Any]:
    return {"prompt": draw(TEXT), "completion": draw(TEXT)}


@st.composite
def text_label(draw: Any) -> dict[str, Any]:
    return {"text": draw(TEXT), "label": draw(PLAIN | st.integers(0, 9))}


RECORDS = {
    "alpaca": alpaca(),
    "dolly": dolly(),
    "sharegpt": sharegpt(),
    "messages": messages(),
    "prompt_completion": prompt_completion(),
    "text_label": text_label(),
}


def with_extras(fmt: str) -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(RECORDS[fmt], EXTRAS).map(lambda pair: {**pair[1], **pair[0]})


def read_back(path: Path, fmt: str | None = None, target: str | None = None) -> list[dict[str, Any]]:
    """Ingest a file and export each record (in its own format unless `target`)."""
    tables: list[pa.RecordBatch] = []
    bad: list[Any] = []
    ingest(discover([str(path)]), IngestOptions(format=fmt), tables.append, bad.append)
    assert not bad, bad
    out = []
    for batch in tables:
        for row in batch.to_pylist():
            out.append(
                export_record(row["raw"], row["id"], row["format"], row["turns"], row["label"], target)
            )
    return out


def expected(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"id": str(i), **obj} for i, obj in enumerate(objs)]


def write_lines(path: Path, objs: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode("utf-8")


FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("fmt", list(FORMATS))
@FUZZ
@given(data=st.data())
def test_jsonl_round_trip_is_exact_for_every_format(fmt: str, data: Any, tmp_path: Path) -> None:
    objs = data.draw(st.lists(with_extras(fmt), min_size=1, max_size=5))
    path = tmp_path / "in.jsonl"
    path.write_bytes(write_lines(path, objs))
    assert read_back(path, fmt) == expected(objs)


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst", ".json"])
@FUZZ
@given(objs=st.lists(with_extras("messages"), min_size=1, max_size=5))
def test_compressed_and_array_files_round_trip(
    suffix: str, objs: list[dict[str, Any]], tmp_path: Path
) -> None:
    path = tmp_path / f"in{suffix}"
    if suffix == ".jsonl.gz":
        path.write_bytes(gzip.compress(write_lines(path, objs)))
    elif suffix == ".jsonl.zst":
        path.write_bytes(zstandard.ZstdCompressor().compress(write_lines(path, objs)))
    else:
        path.write_text(json.dumps(objs, ensure_ascii=False, indent=2), encoding="utf-8")
    assert read_back(path, "messages") == expected(objs)


FIXED_EXTRAS = st.fixed_dictionaries(
    {
        "score": st.floats(allow_nan=False, allow_infinity=False),
        "meta": st.fixed_dictionaries(
            {"n": st.integers(-(2**62), 2**62), "tags": st.lists(PLAIN, max_size=3)}
        ),
    }
)


@FUZZ
@given(rows=st.lists(st.tuples(RECORDS["alpaca"], FIXED_EXTRAS), min_size=1, max_size=6))
def test_parquet_round_trip_matches_the_parquet_rows(rows: list[Any], tmp_path: Path) -> None:
    objs = [
        {**extra, **{k: v for k, v in rec.items() if k in ("instruction", "input", "output")}}
        for rec, extra in rows
    ]
    path = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_pylist(objs), path)
    assert read_back(path) == expected(pq.read_table(path).to_pylist())


@FUZZ
@given(rows=st.lists(st.tuples(PLAIN, PLAIN, PLAIN), min_size=1, max_size=6))
def test_csv_round_trip_keeps_every_column(rows: list[tuple[str, str, str]], tmp_path: Path) -> None:
    objs = [{"text": t, "label": label, "note": note} for t, label, note in rows]
    path = tmp_path / "in.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["text", "label", "note"])
        writer.writeheader()
        writer.writerows(objs)
    # CSV has no empty rows: a row of empty cells is skipped, as a blank line would be.
    kept = [o for o in objs if any(v.strip() for v in o.values())]
    assert [{k: v for k, v in r.items() if k != "id"} for r in read_back(path, "text_label")] == kept


def test_hugging_face_dataset_directory_round_trip(tmp_path: Path) -> None:
    import datasets

    objs = [
        {"instruction": f"q{i} ü", "input": "", "output": f"a{i} 🙂", "meta": {"n": i}} for i in range(20)
    ]
    datasets.Dataset.from_list(objs).save_to_disk(str(tmp_path / "hf"))
    assert read_back(tmp_path / "hf") == expected(objs)


def test_hugging_face_dataset_dict_reads_every_split(tmp_path: Path) -> None:
    import datasets

    split = lambda n: datasets.Dataset.from_list([{"text": f"t{i}", "label": i % 2} for i in range(n)])  # noqa: E731
    datasets.DatasetDict({"train": split(5), "test": split(3)}).save_to_disk(str(tmp_path / "dd"))
    out = read_back(tmp_path / "dd")
    assert [r["id"] for r in out] == [f"train:{i}" for i in range(5)] + [f"test:{i}" for i in range(3)]


def turns_of(fmt: str, obj: dict[str, Any]) -> tuple[list[Turn], str | None]:
    turns, label = get_format(fmt).parse(obj)
    return turns, label


@pytest.mark.parametrize("target", ["sharegpt", "alpaca", "dolly", "prompt_completion"])
@FUZZ
@given(obj=with_extras("messages"))
def test_conversion_from_messages_keeps_turns_label_and_unknown_fields(
    target: str, obj: dict[str, Any]
) -> None:
    turns, label = turns_of("messages", obj)
    raw = json.dumps(obj, ensure_ascii=False)
    wire = [{"role": str(t.role), "content": t.content} for t in turns]
    converted = export_record(raw, "7", "messages", wire, label, target)
    assert converted["id"] == "7"
    for key, value in obj.items():
        if key not in ("messages", "label"):
            assert converted[key] == value
    back_turns, back_label = turns_of(target, converted)
    assert back_label == label
    if target == "sharegpt":
        assert back_turns == turns
    else:
        # Single-exchange formats keep the final exchange verbatim and earlier turns as context.
        assert back_turns[-1] == turns[-1]
        last_user = [t for t in turns if t.role is Role.USER][-1]
        assert last_user.content in [t.content for t in back_turns if t.role is Role.USER][-1]


@FUZZ
@given(obj=with_extras("alpaca"))
def test_alpaca_to_messages_and_back_keeps_the_conversation(obj: dict[str, Any]) -> None:
    turns, label = turns_of("alpaca", obj)
    wire = [{"role": str(t.role), "content": t.content} for t in turns]
    as_messages = export_record(json.dumps(obj), "1", "alpaca", wire, label, "messages")
    again, _ = turns_of("messages", as_messages)
    assert again == turns
    back = export_record(json.dumps(as_messages), "1", "messages", wire, label, "alpaca")
    assert turns_of("alpaca", back)[0] == turns
