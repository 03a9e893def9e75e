"""Calibration against human labels, rewriting to a format spec, and both as `curata run` stages."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from curata.llm.calibrate import calibrate, cohen_kappa, label_value
from curata.llm.rewrite import FormatSpec, clean_reply
from tests.conftest import cli, read_jsonl, write_jsonl
from tests.llm.fake_server import Reply, fake_openai, last_user

REAL_KTO = Path(__file__).parents[1] / "data" / "real" / "kto_en_demo.json"
FAST = ["--backoff-base", "0.001", "-q"]


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-000000")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def score_reply(score: int) -> Reply:
    names = ("helpfulness", "correctness", "instruction_following", "clarity")
    return Reply(json.dumps(dict.fromkeys(names, score)))


def test_kappa_and_metrics_on_known_cases() -> None:
    assert cohen_kappa([1, 0, 1, 0], [1, 0, 1, 0]) == 1.0
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 1, 0]) == 0.0
    assert cohen_kappa([1, 0, 1, 1, 0, 1], [1, 0, 0, 1, 0, 1]) == pytest.approx(2 / 3)
    result = calibrate([1, 0, 1, 0, 1], [0.9, 0.2, 0.75, 0.5, None])
    assert result.scored == 4 and result.accuracy == 0.75
    assert result.spearman == pytest.approx(0.8944, abs=1e-3)
    assert any("could not be scored" in w for w in result.warnings)
    assert [label_value(v) for v in (True, "drop", "keep", "4", "maybe")] == [1.0, 0.0, 1.0, 4.0, None]


def test_collapsed_scores_raise_a_warning() -> None:
    result = calibrate([1, 0] * 10, [0.75] * 19 + [0.5])
    assert result.top_value_share == 0.95
    assert any("score collapse" in w for w in result.warnings)
    assert not any("score collapse" in w for w in calibrate([1, 0, 1], [0.1, 0.5, 0.9]).warnings)


def test_scores_in_a_narrow_band_raise_a_warning_even_when_no_value_repeats() -> None:
    # What a local model's digit-probability scores look like: all different, all near 0.65.
    narrow = [0.62 + 0.005 * i for i in range(12)]
    labels = [1, 0] * 6
    result = calibrate(labels, narrow)
    assert result.top_value_share < 0.1
    assert result.band is not None and result.band[1] - result.band[0] < 0.1
    assert any(w.startswith("narrow scores: half of the scores lie between 0.6") for w in result.warnings)
    assert result.to_json()["band_25_75"] == [round(result.band[0], 4), round(result.band[1], 4)]
    spread = [0.05 + 0.08 * i for i in range(12)]
    assert not any("narrow" in w for w in calibrate(labels, spread).warnings)


def test_calibrate_on_real_kto_labels_prints_the_figures(tmp_path: Path) -> None:
    """A judge that dislikes role-play giggling agrees with the KTO labels better than chance."""

    def judge(body: dict[str, Any], n: int) -> Reply:
        answer = last_user(body).split("### ASSISTANT\n")[-1]
        silly = any(w in answer.lower() for w in ("giggle", "ooh", "*", "hey there", "yay", "lol"))
        return score_reply(2 if silly else 4)

    with fake_openai(judge) as server:
        out = tmp_path / "calibration.json"
        result = cli(["judge", "calibrate", REAL_KTO, "--base-url", server.url, "-o", out, *FAST])
        assert result.exit_code == 0, result.output
        assert server.count == 25
    for figure in ("accuracy", "Cohen's kappa", "Spearman", "score histogram"):
        assert figure in result.output
    figures = json.loads(out.read_text())["calibration"]
    assert figures["labelled"] == figures["scored"] == 25
    assert figures["accuracy"] > 0.5 and figures["cohen_kappa"] > 0
    assert sum(figures["histogram"]) == 25


def test_calibrate_with_review_decisions_file_and_collapse(tmp_path: Path) -> None:
    data = write_jsonl(
        tmp_path / "d.jsonl",
        [{"id": f"x{i}", "instruction": f"task {i}", "output": f"answer {i}"} for i in range(10)],
    )
    decisions = write_jsonl(
        tmp_path / "decisions.jsonl",
        [{"id": f"x{i}", "decision": "keep" if i % 2 else "drop"} for i in range(10)],
    )
    with fake_openai(lambda body, n: score_reply(4)) as server:
        result = cli(["judge", "calibrate", data, "--labels", decisions, "--base-url", server.url, *FAST])
    assert result.exit_code == 0, result.output
    assert "labelled records: 10" in result.output
    assert "warning: score collapse: 100% of scores equal 0.75" in result.output


def test_format_spec_rules() -> None:
    spec = FormatSpec(json_keys=["answer", "reason"])
    assert spec.problems('{"answer": 1, "reason": "x"}') == []
    assert spec.problems('{"answer": 1}') == ["lacks the key(s) reason"]
    assert spec.problems("The answer is 1") == ["is not a JSON object"]
    ends = FormatSpec(ends_with=r"Answer: [A-D]")
    assert ends.problems("Because... Answer: B\n") == []
    assert ends.problems("Answer: B. Because...") != []
    assert clean_reply('```json\n{"a": 1}\n```') == '{"a": 1}'
    with pytest.raises(ValueError):
        FormatSpec()
    with pytest.raises(ValueError):
        FormatSpec(regex="([")


def rewriting_server(body: dict[str, Any], n: int) -> Reply:
    """Rewrites into 'Answer: X' except for records mentioning 'stubborn', which it never fixes."""
    text = last_user(body)
    answer = text.split("### ANSWER TO REWRITE\n")[1].split("\n\nReply with only")[0]
    if "stubborn" in text:
        return Reply("I would rather not.")
    letter = answer.strip()[0].upper()
    return Reply(f"```\n{answer}\nAnswer: {letter}\n```")


def test_rewrite_command_verifies_and_sets_failures_aside(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "instruction": "Pick one", "output": "b is right", "topic": "t1"},
        {"id": "b", "instruction": "Pick one", "output": "Clearly.\nAnswer: C"},
        {"id": "c", "instruction": "Pick one, stubborn", "output": "d maybe"},
    ]
    data = write_jsonl(tmp_path / "mcq.jsonl", rows)
    out = tmp_path / "fixed.jsonl"
    with fake_openai(rewriting_server) as server:
        result = cli(
            ["rewrite", data, "-o", out, "--ends-with", "Answer: [A-D]", "--base-url", server.url, *FAST]
        )
        assert result.exit_code == 0, result.output
        assert server.count == 1 + 2  # 'b' already passes; 'c' is tried twice
    fixed = {r["id"]: r for r in read_jsonl(out)}
    assert fixed["a"]["output"] == "b is right\nAnswer: B" and fixed["a"]["topic"] == "t1"
    assert fixed["a"]["curata_rewrite"]["original"] == "b is right"
    assert fixed["b"] == rows[1]
    assert "c" not in fixed
    failed = read_jsonl(tmp_path / "fixed.failed.jsonl")
    assert [f["id"] for f in failed] == ["c"] and failed[0]["check"] == "rewrite_failed"
    assert "1 rewritten and verified, 1 still failing" in result.output


def test_judge_and_rewrite_stages_in_a_run(tmp_path: Path, run_curata: Any) -> None:
    def server_script(body: dict[str, Any], n: int) -> Reply:
        if "ANSWER TO REWRITE" in last_user(body):
            return rewriting_server(body, n)
        stubborn = any("stubborn" in m["content"] for m in body["messages"])
        return Reply("no idea") if stubborn else score_reply(5)

    rows = [
        {"id": f"q{i}", "instruction": f"Question {i}", "output": f"{'abcd'[i % 4]} it is"} for i in range(8)
    ]
    rows.append({"id": "q8", "instruction": "stubborn one", "output": "d"})
    data = write_jsonl(tmp_path / "data.jsonl", rows)
    with fake_openai(server_script) as server:
        llm = {"base_url": server.url, "model": "fake", "backoff_base": 0.001}
        recipe = tmp_path / "recipe.yaml"
        recipe.write_text(
            json.dumps(
                {
                    "stages": [
                        "normalize",
                        "stats",
                        "checks",
                        {"judge": {"llm": llm}},
                        {"rewrite": {"llm": llm, "spec": {"ends_with": "Answer: [A-D]"}}},
                        "quality",
                        {"decide": {"actions": {"rewrite_failed": "drop"}}},
                    ]
                }
            )
        )
        run = run_curata(data, extra=["--recipe", recipe])
        sent = server.count
        assert (tmp_path / "out0" / ".curata" / "llm-cache.sqlite").exists()
    signals = pq.read_table(run.out / "signals.parquet").to_pylist()
    by_id = {s["id"]: s for s in signals}
    assert by_id["q1"]["judge_score"] == 1.0 and by_id["q1"]["judge_clarity"] == 5
    assert math.isnan(by_id["q8"]["judge_score"]) and by_id["q8"]["judge_raw"].startswith("no idea")
    assert by_id["q1"]["rewrite_response"] == "b it is\nAnswer: B"
    assert by_id["q8"]["rewrite_failed"] == 1.0
    assert [r["id"] for r in run.rejected] == ["q8"] and run.rejected[0]["reasons"] == ["rewrite_failed"]
    assert sent == 9 + 1 + 8 + 2  # judge 9 + one repair; rewrite 8 + two tries for q8
    judged = run.summary["stage_summaries"]["judge"]
    assert judged["scored"] == 8 and judged["unparseable"] == 1 and judged["histogram"][-1] == 8
    report = (run.out / "report.html").read_text()
    assert "LLM judge scores" in report and "8 of 9 records scored by fake" in report
    assert "Score collapse" in report  # every scored record got 5/5
