"""`curata export`: JSONL, Parquet and Hugging Face directories in every format, per split, and
chat-template rendering with a local tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curata.exports import rows_to_table
from curata.formats import FORMAT_NAMES
from tests.conftest import cli, read_jsonl, write_jsonl

ROWS = [
    {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": f"Say {i}"},
            {"role": "assistant", "content": f"{i}!"},
        ],
        "label": "good" if i % 2 else "bad",
        "meta": {"i": i},
    }
    for i in range(12)
]


@pytest.fixture
def finished_run(tmp_path: Path) -> Path:
    data = write_jsonl(
        tmp_path / "chat.jsonl",
        [*ROWS, {"messages": [{"role": "user", "content": "empty"}, {"role": "assistant", "content": ""}]}],
    )
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "stages: [normalize, stats, checks, quality, exact_dedup, decide, {split: {stratify: none}}]\n"
    )
    out = tmp_path / "run"
    assert cli(["run", data, "-o", out, "-q", "--recipe", recipe]).exit_code == 0
    return out


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_jsonl_export_in_every_format_reads_back_as_that_format(
    finished_run: Path, tmp_path: Path, fmt: str
) -> None:
    dest = tmp_path / fmt
    result = cli(["export", finished_run, "--dest", dest, "--format", fmt])
    assert result.exit_code == 0, result.output
    rows = read_jsonl(dest / "all.jsonl")
    assert len(rows) == 12 and {r["id"] for r in rows} == {str(i) for i in range(12)}
    inspect = cli(["inspect", dest / "all.jsonl", "--format", fmt])
    assert "records: 12" in inspect.output and "bad lines: 0" in inspect.output
    assert all(r["meta"] == {"i": int(r["id"])} for r in rows)


def test_parquet_and_hf_exports_per_split(finished_run: Path, tmp_path: Path) -> None:
    assert (
        cli(["export", finished_run, "--dest", tmp_path / "pq", "--to", "parquet", "--splits"]).exit_code == 0
    )
    counts = {p.stem: pq.read_table(p).num_rows for p in (tmp_path / "pq").glob("*.parquet")}
    assert sum(counts.values()) == 12 and set(counts) <= {"train", "validation", "test"}
    import datasets

    assert (
        cli(
            [
                "export",
                finished_run,
                "--dest",
                tmp_path / "hf",
                "--to",
                "hf",
                "--splits",
                "--format",
                "sharegpt",
            ]
        ).exit_code
        == 0
    )
    loaded = datasets.load_from_disk(str(tmp_path / "hf"))
    assert sum(len(loaded[s]) for s in loaded) == 12
    first = loaded["train"][0]
    assert first["conversations"][0]["from"] == "system"
    # And curata reads its own export back.
    again = cli(["inspect", tmp_path / "hf"])
    assert "format: sharegpt" in again.output


def test_chat_template_export_renders_with_the_local_tokenizer(finished_run: Path, tmp_path: Path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    raw = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    raw.train_from_iterator(
        ["Be brief. Say 1 2 3 !"], trainers.WordLevelTrainer(special_tokens=["[UNK]", "<s>", "</s>"])
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, unk_token="[UNK]", bos_token="<s>", eos_token="</s>"
    )
    tokenizer.chat_template = (
        "{% for m in messages %}<s> {{ m['role'] }} : {{ m['content'] }} </s> {% endfor %}"
    )
    tokenizer.save_pretrained(tmp_path / "tok")
    result = cli(
        ["export", finished_run, "--dest", tmp_path / "out", "--chat-template-from", tmp_path / "tok"]
    )
    assert result.exit_code == 0, result.output
    assert "tokens per example" in result.output
    rows = read_jsonl(tmp_path / "out" / "all.jsonl")
    first = next(r for r in rows if r["id"] == "3")
    assert first["text"] == "<s> system : Be brief. </s> <s> user : Say 3 </s> <s> assistant : 3! </s> "
    assert first["n_tokens"] == len(first["text"].split())
    summary = json.loads((tmp_path / "out" / "export.json").read_text())
    assert summary["tokens"]["examples"] == 12


def test_fields_with_conflicting_types_are_kept_as_json_text() -> None:
    table = rows_to_table([{"a": 1, "b": "x"}, {"a": "one", "c": [1, 2]}])
    assert table.column("a").to_pylist() == ["1", '"one"']
    assert table.column("c").to_pylist() == [None, "[1,2]"]
    assert table.column("b").to_pylist() == ["x", None]


def test_export_of_an_unfinished_run_is_a_clear_error(tmp_path: Path) -> None:
    result = cli(["export", tmp_path, "--dest", tmp_path / "x"])
    assert result.exit_code == 1 and "not a finished curata run" in result.output
