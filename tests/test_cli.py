"""The smaller commands: inspect and checks."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import cli, write_jsonl


def test_inspect_prints_format_counts_fields_and_samples(tmp_path: Path) -> None:
    rows = [
        {
            "messages": [{"role": "user", "content": f"hello {i}"}, {"role": "assistant", "content": "hi"}],
            "label": i % 2 == 0,
        }
        for i in range(7)
    ]
    path = write_jsonl(tmp_path / "chat.jsonl", rows)
    with open(path, "a") as handle:
        handle.write("{broken\n")
    result = cli(["inspect", path, "--samples", "2"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "format: messages" in out and "records: 7" in out and "bad lines: 1" in out
    assert f"{path}:8: invalid JSON" in out
    assert "messages" in out and "label" in out and "bool 7" in out
    assert "sample 1" in out and "sample 2" in out and "sample 3" not in out
    assert "labels: true 4, false 3" in out


def test_checks_lists_codes_with_default_actions() -> None:
    result = cli(["checks"])
    assert result.exit_code == 0
    assert (
        "empty_response" in result.output and "exact_duplicate" in result.output and "drop" in result.output
    )


def test_progress_is_plain_lines_when_not_on_a_terminal_and_timings_are_recorded(tmp_path: Path) -> None:
    from tests.conftest import cli_subprocess

    path = write_jsonl(tmp_path / "in.jsonl", [{"text": f"t{i}", "label": "a"} for i in range(50)])
    proc = cli_subprocess(["run", path, "-o", tmp_path / "out"])
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert any(line.startswith("read: 50 records") and "done in" in line for line in lines), proc.stderr
    assert any(line.startswith("normalize+stats+checks+quality: 50/50 records") for line in lines)
    assert "\x1b[" not in proc.stderr  # no terminal escape codes in a log
    import json

    stages = json.loads((tmp_path / "out" / "summary.json").read_text())["stages"]
    assert [s["name"] for s in stages] == [
        "read",
        "normalize",
        "stats",
        "checks",
        "quality",
        "exact_dedup",
        "near_dedup",
        "conflicts",
        "lengths",
        "formats",
        "labels",
        "coverage",
        "decide",
    ]
    assert all(s["seconds"] >= 0 and s["rows"] == 50 for s in stages)
