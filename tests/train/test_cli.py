"""The `finetune` and `compare` commands end to end on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import cli, write_jsonl
from tests.train.tiny_model import conversations


def sharegpt(convs: list[list[dict[str, str]]]) -> list[dict[str, Any]]:
    names = {"user": "human", "assistant": "gpt"}
    return [{"conversations": [{"from": names[t["role"]], "value": t["content"]} for t in c]} for c in convs]


def test_finetune_command_trains_with_planned_defaults_and_merges(tiny_model: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", sharegpt(conversations(30)))
    out = tmp_path / "ft"
    result = cli(
        [
            "finetune",
            data,
            "--model",
            tiny_model,
            "-o",
            out,
            "--max-steps",
            "3",
            "--max-length",
            "64",
            "--merge",
            "--quiet",
        ]
    )
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "finetune.json").read_text())
    assert saved["steps"] == 3 and saved["method"] == "lora"
    # Defaults come from the plan: 30 examples is a small set, so the plan's rank for small data.
    assert saved["settings"]["lora_r"] == 8 and saved["settings"]["learning_rate"] == 2e-4
    assert (out / "merged" / "config.json").exists()


def test_finetune_command_on_a_run_directory_and_bad_model_path(
    run_curata: Any, tiny_model: Path, tmp_path: Path
) -> None:
    data = write_jsonl(tmp_path / "data.jsonl", [{"messages": c} for c in conversations(20)])
    run = run_curata(data)
    result = cli(
        [
            "finetune",
            run.out,
            "--model",
            tiny_model,
            "-o",
            tmp_path / "ft",
            "--max-steps",
            "2",
            "--quiet",
            "--method",
            "full",
        ]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ft" / "finetune.json").read_text())["examples"] == 20
    missing = cli(["finetune", data, "--model", tmp_path / "no-model", "--quiet"])
    assert missing.exit_code == 1 and "local paths only" in missing.output


def test_compare_command_writes_json_and_attaches_to_the_run(
    run_curata: Any, tiny_model: Path, tmp_path: Path
) -> None:
    raw = write_jsonl(tmp_path / "raw.jsonl", [{"messages": c} for c in conversations(30) * 2])
    run = run_curata(raw)
    held_out = write_jsonl(tmp_path / "eval.jsonl", [{"messages": c} for c in conversations(4, offset=400)])
    result = cli(
        [
            "compare",
            raw,
            run.out,
            "--model",
            tiny_model,
            "--eval",
            held_out,
            "-o",
            tmp_path / "cmp",
            "--steps",
            "2",
            "--batch-size",
            "2",
            "--block",
            "48",
            "--run",
            run.out,
            "--json",
            "--quiet",
        ]
    )
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["sides"]["raw"]["records"] == 60 and printed["sides"]["curated"]["records"] == 30
    assert "skipped" in printed["judge"]["judge"]
    assert json.loads((run.out / "compare.json").read_text())["budget"] == printed["budget"]
