"""`curata run --max-requests / --max-cost / --dry-run` against a real OpenAI-protocol server:
the cap is exact, partial results are kept in a complete run contract, and a dry run sends
and writes nothing."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Run, cli
from tests.llm.fake_server import FakeOpenAI, fake_openai
from tests.llm.scripts import instruction_records, judge_script


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-000000")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def judge_recipe(path: Path, server: FakeOpenAI, **llm: Any) -> Path:
    settings = {"base_url": server.url, "model": "fake", "backoff_base": 0.001, "concurrency": 16, **llm}
    stages = ["normalize", "stats", "checks", {"judge": {"llm": settings}}, "quality", "decide"]
    path.write_text(json.dumps({"stages": stages}))
    return path


def run(data: Path, out: Path, recipe: Path, *extra: str) -> Run:
    result = cli(["run", data, "-o", out, "--recipe", recipe, *extra])
    assert result.exit_code == 0, result.output
    return Run(out, result)


def printed(result: Any) -> str:
    """The command's output with the console's line wrapping undone."""
    return " ".join(result.output.split())


def statuses(run: Run) -> list[str]:
    return [str(s) for s in run.signals.column("judge_status").to_pylist()]


def test_max_requests_on_run_stops_at_exactly_that_many_and_keeps_partial_results(tmp_path: Path) -> None:
    data = instruction_records(tmp_path / "data.jsonl", 150)
    out = tmp_path / "out"
    with fake_openai(judge_script()) as server:
        recipe = judge_recipe(tmp_path / "recipe.yaml", server)
        capped = run(data, out, recipe, "--max-requests", "100")
        # every request that reached the server counts, 429s and 500s included
        assert server.count == 100
        assert "stage judge: 100 requests sent to fake" in printed(capped.result)
        assert "stopped by max_requests" in printed(capped.result)
        # the contract is complete: every record curated or rejected, none lost
        assert len(capped.curated) + len(capped.rejected) == 150
        done = statuses(capped)
        assert 50 <= done.count("scored") < 100 and done.count("not_judged") >= 50
        scores = capped.signals.column("judge_score").to_pylist()
        for status, score in zip(done, scores, strict=True):
            assert (status == "scored") == (not math.isnan(score))
        llm = capped.summary["stage_summaries"]["judge"]["llm"]
        assert llm["requests_sent"] == 100 and llm["budget_exhausted"] == "max_requests"
        assert llm["max_requests"] == 100

        server.reset()
        again = run(data, out, recipe, "--max-requests", "100")
        assert server.count == 0
        assert statuses(again) == done
        # a rerun from the run directory's record (`curata select`) keeps the cap too
        selected = cli(["select", out, "--n", "20", "--method", "top", "-q"])
        assert selected.exit_code == 0, selected.output
        assert server.count == 0 and statuses(Run(out)) == done

        # without the cap the run continues: what was paid for is answered from the cache
        full = run(data, out, recipe)
        assert server.count > 0
        assert full.summary["stage_summaries"]["judge"]["llm"]["cache_hits"] >= done.count("scored")
        assert statuses(full).count("scored") == 149  # r0 never gets a readable verdict


def test_max_cost_on_run_caps_the_spend(tmp_path: Path) -> None:
    data = instruction_records(tmp_path / "data.jsonl", 40)
    with fake_openai(judge_script(errors=False)) as server:
        recipe = judge_recipe(
            tmp_path / "recipe.yaml", server, prices={"fake": {"input": 100, "output": 100}}
        )
        capped = run(data, tmp_path / "out", recipe, "--max-cost", "0.05")
        llm = capped.summary["stage_summaries"]["judge"]["llm"]
        assert llm["budget_exhausted"] == "max_cost" and llm["cost"] <= 0.05 + 1e-9
        assert 0 < server.count < 40
        assert "not_judged" in statuses(capped)


def test_run_dry_run_estimates_and_sends_and_writes_nothing(tmp_path: Path) -> None:
    data = instruction_records(tmp_path / "data.jsonl", 150)
    out = tmp_path / "out"
    with fake_openai(judge_script(errors=False)) as server:
        recipe = judge_recipe(tmp_path / "recipe.yaml", server, prices={"fake": {"input": 1, "output": 2}})
        result = cli(["run", data, "-o", out, "--recipe", recipe, "--dry-run", "--max-requests", "100"])
        assert result.exit_code == 0, result.output
        assert server.count == 0 and not out.exists()
        text = printed(result)
        assert "stage judge: dry run for fake: 150 requests to send (0 answered from the cache)" in text
        assert "capped: at most 100 requests will be sent" in text
        assert "dry run total within the caps: 100 requests" in text
        # the price table's rates: prompt tokens at $1 and answer tokens at $2 per million
        full, capped = (float(x) for x in re.findall(r"estimated cost \$([0-9.]+)", text))
        assert full > 0 and capped == pytest.approx(full * 100 / 150, abs=1e-4)

        run(data, out, recipe, "--max-requests", "60")
        server.reset()
        result = cli(["run", data, "-o", out, "--recipe", recipe, "--dry-run"])
        assert result.exit_code == 0, result.output
        assert server.count == 0
        # the run's cache answers what it already paid for
        cached = int(printed(result).split("requests to send (")[1].split(" answered")[0])
        assert cached >= 50 and f"{150 - cached} requests to send" in printed(result)


def test_dry_run_of_a_recipe_without_llm_stages(tmp_path: Path) -> None:
    data = instruction_records(tmp_path / "data.jsonl", 5)
    result = cli(["run", data, "-o", tmp_path / "out", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "no LLM stage" in printed(result) and not (tmp_path / "out").exists()
