"""Bad input: reported with file, line and field; never a traceback; never losing the good records."""

from __future__ import annotations

import base64
import json
import resource
from pathlib import Path

import pytest

from tests.conftest import cli, cli_subprocess, read_jsonl, write_jsonl

GOOD = {"instruction": "Name a colour.", "input": "", "output": "Blue."}


def alpaca_rows(n: int) -> list[dict[str, str]]:
    return [{"instruction": f"Question {i}?", "input": "", "output": f"Answer number {i}."} for i in range(n)]


def test_malformed_json_line_goes_to_bad_lines_and_the_run_continues(run_curata, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    lines = [json.dumps(r) for r in alpaca_rows(3)]
    lines.insert(1, '{"instruction": "broken", "output": ')
    lines.insert(3, '{"instruction": "nan", "input": "", "output": NaN}')
    path.write_text("\n".join(lines) + "\n")
    run = run_curata(path)
    bad = run.bad_lines
    assert [(b["file"], b["line"]) for b in bad] == [(str(path), 2), (str(path), 4)]
    assert all(b["error"].startswith("invalid JSON") for b in bad)
    assert bad[0]["text"] == lines[1]
    assert run.summary["totals"] == {"input": 5, "records": 3, "bad_lines": 2, "kept": 3, "rejected": 0}
    # Positions count bad lines too, so ids stay stable when a bad line is fixed later.
    assert [r["id"] for r in run.curated] == ["0", "2", "4"]


def test_strict_fails_with_exit_code_2_and_one_line_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(GOOD) + "\n{oops\n" + json.dumps(GOOD) + "\n")
    out = tmp_path / "out"
    proc = cli_subprocess(["run", path, "-o", out, "--strict", "--quiet"])
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"{path}:2:" in lines[0]
    assert "Traceback" not in proc.stderr
    assert not (out / "summary.json").exists() and not (out / "curated.jsonl").exists()


@pytest.mark.parametrize(
    ("record", "field", "problem"),
    [
        ({"instruction": 42, "input": "", "output": "x"}, "instruction", "expected a string, got int"),
        ({"instruction": "q", "input": ""}, "output", "missing"),
        ({"instruction": "q", "input": "", "output": None}, "output", "is null"),
        ({"instruction": "q", "output": "a", "history": [["only one"]]}, "history[0]", "pair"),
    ],
)
def test_wrong_field_types_and_missing_fields_name_the_field(
    run_curata, tmp_path: Path, record: dict[str, object], field: str, problem: str
) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [GOOD, record, GOOD])
    run = run_curata(path, extra=["--format", "alpaca"])
    [bad] = run.bad_lines
    assert bad["line"] == 2
    assert f"field '{field}'" in bad["error"] and problem in bad["error"]
    assert len(run.curated) + len(run.rejected) == 2


def test_message_turn_with_unknown_role_names_the_nested_field(run_curata, tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "beep"}]},
    ]
    run = run_curata(write_jsonl(tmp_path / "in.jsonl", rows))
    [bad] = run.bad_lines
    assert bad["line"] == 2 and "messages[1].role" in bad["error"] and "robot" in bad["error"]


def test_undetectable_format_is_one_clear_line_without_traceback(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "in.jsonl", [{"question": "q", "answer": "a"}] * 3)
    proc = cli_subprocess(["run", path, "-o", tmp_path / "out", "--quiet"])
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert f"{path}:1:" in line and "cannot detect the record format" in line and "--format" in line
    assert "answer" in line and "question" in line


def test_invalid_utf8_line_is_kept_exactly_in_bad_lines(run_curata, tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    broken = b'{"instruction": "caf\xe9", "input": "", "output": "x"}'
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + broken + b"\n")
    run = run_curata(path)
    [bad] = run.bad_lines
    assert bad["line"] == 2 and "UTF-8" in bad["error"]
    assert base64.b64decode(bad["text_b64"]) == broken
    assert len(run.curated) == 1


def test_empty_file_gives_an_empty_but_complete_run(run_curata, tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    run = run_curata(path)
    assert run.summary["totals"]["records"] == 0
    assert run.curated == [] and run.rejected == []
    assert (run.out / "report.html").exists()


def test_ten_megabyte_record_passes_through_untouched(run_curata, tmp_path: Path) -> None:
    big = "word " * 2_000_000
    path = write_jsonl(tmp_path / "in.jsonl", [{"instruction": "Repeat.", "input": "", "output": big}, GOOD])
    run = run_curata(path)
    # The default recipe drops the looping answer as `repetition`; the record itself is kept intact.
    assert [r["output"] for r in run.curated] == [GOOD["output"]]
    assert [(r["reasons"], r["record"]["output"] == big) for r in run.rejected] == [(["repetition"], True)]


def test_json_array_with_a_broken_element_keeps_the_records_before_it(run_curata, tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_text(
        '[\n  {"instruction": "a", "input": "", "output": "b"},\n  {"instruction": "c", "output": \n]\n'
    )
    run = run_curata(path)
    assert len(run.curated) == 1
    [bad] = run.bad_lines
    assert bad["line"] == 4 and "invalid JSON" in bad["error"] and "record from line 3" in bad["error"]


def test_missing_input_and_empty_directory_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "empty_dir").mkdir()
    for target, words in [
        (tmp_path / "nope.jsonl", "no such file"),
        (tmp_path / "empty_dir", "no data files"),
    ]:
        proc = cli_subprocess(["run", target, "-o", tmp_path / "out", "--quiet"])
        assert proc.returncode == 1
        [line] = proc.stderr.strip().splitlines()
        assert str(target) in line and words in line


def test_output_directory_with_foreign_files_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "precious.txt").write_text("mine")
    path = write_jsonl(tmp_path / "in.jsonl", [GOOD])
    result = cli(["run", path, "-o", out, "--quiet"])
    assert result.exit_code == 1
    assert (out / "precious.txt").read_text() == "mine"


@pytest.mark.slow
def test_one_gigabyte_file_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    filler = "lorem ipsum dolor sit amet " * 35
    with open(path, "w") as handle:
        for i in range(1_050_000):
            handle.write(
                json.dumps({"instruction": f"Item {i}", "input": "", "output": f"{i} {filler}"}) + "\n"
            )
    assert path.stat().st_size > 1_000_000_000
    proc = cli_subprocess(["run", path, "-o", tmp_path / "out", "--quiet", "--workers", "2"])
    assert proc.returncode == 0, proc.stderr
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert peak_kib < 2_000_000, f"peak RSS {peak_kib / 1e6:.1f} GB for a 1 GB file"
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["totals"]["records"] == 1_050_000
    assert len(read_jsonl(tmp_path / "out" / "bad_lines.jsonl")) == 0
