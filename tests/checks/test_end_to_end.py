"""`curata run` with the default recipe over records with every kind of defect, and a user's own
check loaded as a plugin (the example from docs/checks.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.conftest import Run, cli_subprocess, write_jsonl

EXAMPLE = Path(__file__).parents[2] / "examples" / "custom_check.py"
GOOD = "Water boils at 100 degrees Celsius at sea level, and at a lower temperature up a mountain."

RECORDS = [
    ("good", "At what temperature does water boil?", GOOD, None),
    ("empty", "Say hi.", "   ", ["empty_response"]),
    ("truncated", "Describe the water cycle in detail.",
     "Water evaporates from the oceans, rises into the atmosphere, cools and condenses into clouds, "
     "falls back as rain or snow, flows into rivers and lakes, soaks into the ground and eventually "
     "returns to the sea, where the", ["truncated_response"]),
    ("refusal", "Write a poem about cats.", "I'm sorry, but I can't help with that.", ["refusal"]),
    ("loop", "Tell me about dogs.", "Dogs are loyal. " * 20, ["repetition"]),
    ("template", "Who are you?", "I am {{name}}, an assistant made by {{author}}.", ["placeholder"]),
    ("mojibake", "Translate café.", "The word cafÃ© means coffee shop.", ["encoding_error"]),
    ("bench", "Compose an engaging travel blog post about a recent trip to Hawaii, highlighting cultural "
     "experiences and must-see attractions.", "Aloha! My trip to Hawaii began on Oahu.", ["contamination"]),
    ("dup", "At what temperature does water boil?", GOOD, ["exact_duplicate"]),
    ("pii", "How can I reach you?", "Write to maria.lopez@gmail.com any time.", None),
    ("story", "Write a story about a robot.",
     'The robot looked up. "I\'m sorry, but I cannot do that," it said, and then it did it anyway, '
     "because the child asked so nicely and the sun was shining.", None),
]  # fmt: skip


def test_default_recipe_drops_and_flags_as_documented(run_curata: Any, tmp_path: Path) -> None:
    rows = [{"id": rid, "instruction": p, "input": "", "output": a} for rid, p, a, _ in RECORDS]
    run: Run = run_curata(write_jsonl(tmp_path / "d.jsonl", rows))
    rejected = {r["id"]: r["reasons"] for r in run.rejected}
    expected = {rid: reasons for rid, _, _, reasons in RECORDS if reasons}
    assert rejected == expected
    assert {r["id"] for r in run.curated} == {"good", "pii", "story"}
    flags = {(f["id"], f["check"]) for f in run.findings if f["severity"] == "warning"}
    assert ("pii", "pii") in flags
    signals = run.signals.to_pydict()
    for column in ("quality", "refusal", "contamination", "output_format", "task_type", "quality_relevance"):
        assert column in signals
    quality = dict(zip(signals["id"], signals["quality"], strict=True))
    assert quality["good"] > quality["refusal"] and quality["good"] > quality["loop"]
    checks = run.summary["checks"]
    assert checks["refusal"]["dropped"] == 1 and checks["pii"]["action"] == "flag"
    report = (run.out / "report.html").read_text()
    assert "Coverage and consistency" in report and "Task types" in report


def test_custom_check_plugin_from_the_docs(tmp_path: Path) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl",
        [
            {"instruction": "Greet me.", "output": "HELLO THERE, HOW ARE YOU DOING TODAY MY FRIEND?"},
            {"instruction": "Greet me.", "output": "Hello there, how are you doing today, my friend?"},
        ],
    )
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("stages:\n  - checks: {run: [shouting]}\n  - decide: {actions: {shouting: drop}}\n")
    out = tmp_path / "out"
    env = {**os.environ, "CURATA_PLUGINS": str(EXAMPLE), "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    result = cli_subprocess(["run", data, "-o", out, "--recipe", recipe, "-q"], env=env)
    assert result.returncode == 0, result.stderr
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert [(r["id"], r["reasons"]) for r in rejected] == [("0", ["shouting"])]
    listed = cli_subprocess(["checks"], env=env)
    assert "shouting" in listed.stdout


def test_a_plugin_that_fails_to_load_is_one_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "CURATA_PLUGINS": str(tmp_path / "missing.py")}
    result = cli_subprocess(["run", tmp_path / "x.jsonl", "-o", tmp_path / "out"], env=env)
    assert result.returncode != 0
    assert "cannot load check plugin" in result.stderr and "Traceback" not in result.stderr
