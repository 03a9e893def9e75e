"""contamination: bundled benchmark prompts planted verbatim and edited, and user eval sets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import curata.checks  # noqa: F401 - registers the checks
from curata.checks.contamination import bundled_items
from curata.workdir import RunDir
from tests.checks.helpers import chat, flagged, run_check
from tests.conftest import write_jsonl

MT_BENCH_81 = (
    "Compose an engaging travel blog post about a recent trip to Hawaii, highlighting cultural "
    "experiences and must-see attractions."
)


def test_bundled_benchmarks_are_indexed() -> None:
    mt = bundled_items("mt_bench", all_turns=False)
    vicuna = bundled_items("vicuna_bench", all_turns=False)
    assert len(mt) == 80 and len(vicuna) == 80
    assert mt[0].id == "MT-bench#81" and mt[0].text == MT_BENCH_81


def test_contamination_flags_a_verbatim_benchmark_prompt_and_names_it() -> None:
    result = run_check("contamination", chat(MT_BENCH_81, "Aloha! ..."))
    assert result is not None and result.value == 1.0
    assert "MT-bench#81" in result.message and "travel blog" in result.message


def test_contamination_flags_a_lightly_edited_prompt_inside_a_longer_one() -> None:
    edited = (
        "Please help me. Compose an engaging travel blog post about my recent trip to Hawaii, highlighting "
        "the cultural experiences and must see sights."
    )
    assert flagged("contamination", chat(edited, "Sure."))


def test_contamination_ignores_an_unrelated_prompt_on_the_same_topic() -> None:
    prompt = "What should I pack for a week of hiking on the Big Island of Hawaii in winter?"
    assert not flagged("contamination", chat(prompt, "Layers and rain gear."))


def test_contamination_ignores_the_same_phrasing_about_another_topic() -> None:
    """Vicuna-bench #1 is 'How can I improve my time management skills?'."""
    assert not flagged("contamination", chat("How can I improve my public speaking skills?", "Practise."))
    assert flagged("contamination", chat("How can I improve my time management skills?", "Plan."))


def test_contamination_checks_user_eval_sets_in_any_format(tmp_path: Path) -> None:
    evals = write_jsonl(
        tmp_path / "my_eval.jsonl",
        [
            {
                "instruction": "Name three rivers that flow through more than four European countries.",
                "output": "",
            }
        ],
    )
    record = chat("Name three rivers that flow through more than four European countries.", "The Danube...")
    assert not flagged("contamination", record)
    result = run_check("contamination", record, files=[str(evals)], benchmarks=[])
    assert result is not None and result.value == 1.0 and "my_eval.jsonl#0" in result.message


def test_decontaminate_against_option_flags_and_drops(run_curata: Any, tmp_path: Path) -> None:
    question = "Explain how the ancient Polynesian navigators found tiny islands across the open Pacific."
    evals = tmp_path / "eval.json"
    evals.write_text(json.dumps([{"prompt": question, "completion": "..."}]))
    data = write_jsonl(
        tmp_path / "train.jsonl",
        [
            {"instruction": question, "output": "They read the stars, swells and birds."},
            {"instruction": MT_BENCH_81, "output": "Aloha from Hawaii! I spent a week there."},
            {"instruction": "Give me a synonym for happy.", "output": "Cheerful."},
        ],
    )
    plain = run_curata(data)
    assert {r["id"] for r in plain.rejected} == {"1"}
    run = run_curata(data, extra=["--decontaminate-against", str(evals)])
    rejected = {r["id"]: r["reasons"] for r in run.rejected}
    assert rejected == {"0": ["contamination"], "1": ["contamination"]}
    finding = next(f for f in run.findings if f["id"] == "0" and f["check"] == "contamination")
    assert "eval.json#0" in finding["message"]
    # The run's stored recipe names the eval set, so `curata select` re-runs check it too.
    command = json.loads(RunDir(run.out).manifest.read_text())["command"]
    assert str(evals.resolve()) in command["recipe_text"]
