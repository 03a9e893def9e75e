"""The judge against a real HTTP server speaking the OpenAI protocol: malformed answers, 429s and
500s, the cache, and the request cap."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli, read_jsonl
from tests.llm.fake_server import Reply, fake_openai
from tests.llm.scripts import NONSENSE, instruction_records, judge_script

KEY = "sk-curata-test-SECRET-0123456789"
FAST = ["--backoff-base", "0.001", "--concurrency", "16", "-q"]


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def test_judge_1000_records_with_malformed_answers_and_server_errors(tmp_path: Path) -> None:
    data = instruction_records(tmp_path / "data.jsonl", 1000)
    out = tmp_path / "verdicts.jsonl"
    with fake_openai(judge_script()) as server:
        started = time.perf_counter()
        result = cli(["judge", "score", data, "-o", out, "--base-url", server.url, *FAST])
        seconds = time.perf_counter() - started
        assert result.exit_code == 0, result.output
        first_run = server.count
        statuses = [s.status for s in server.seen]
        assert statuses.count(429) > 50 and statuses.count(500) > 30
        # every request carried the key; 1,000 first asks + 100 repairs + one retry per error
        assert all(s.authorization == f"Bearer {KEY}" for s in server.seen)
        assert first_run == 1000 + 100 + statuses.count(429) + statuses.count(500)

        verdicts = read_jsonl(out)
        assert [v["id"] for v in verdicts] == [f"r{i}" for i in range(1000)]
        scored = [v for v in verdicts if v["status"] == "scored"]
        assert len(scored) >= 990
        unscored = [v for v in verdicts if v["status"] != "scored"]
        assert {v["id"] for v in unscored} == {f"r{i}" for i in range(0, 1000, 200)}
        assert all(v["status"] == "unparseable" and NONSENSE in v["judge_raw"] for v in unscored)
        assert all(v["judge_score"] is None for v in unscored)
        # score 1..5 on every criterion maps to 0..1; item i was scored 1 + i % 5
        by_id = {v["id"]: v for v in scored}
        assert by_id["r7"]["judge_score"] == pytest.approx((7 % 5) / 4)
        assert by_id["r10"]["repaired"] is True

        server.reset()
        again = cli(["judge", "score", data, "-o", tmp_path / "again.jsonl", "--base-url", server.url, *FAST])
        assert again.exit_code == 0, again.output
        assert server.count == 0
        assert read_jsonl(tmp_path / "again.jsonl") == verdicts
    print(f"1,000 records judged in {seconds:.1f}s over {first_run} requests")


def test_max_requests_stops_at_exactly_that_many_and_keeps_partial_results(tmp_path: Path) -> None:
    data = instruction_records(tmp_path / "data.jsonl", 300)
    out = tmp_path / "verdicts.jsonl"
    with fake_openai(judge_script()) as server:
        result = cli(
            ["judge", "score", data, "-o", out, "--base-url", server.url, "--max-requests", "100", *FAST]
        )
        assert result.exit_code == 0, result.output
        assert server.count == 100
        verdicts = read_jsonl(out)
        assert len(verdicts) == 300
        done = [v for v in verdicts if v["status"] == "scored"]
        assert 50 <= len(done) < 100
        assert sum(v["status"] == "not_judged" for v in verdicts) >= 200
        assert "stopped by max_requests" in result.output
        # a larger budget continues from the cache: the first 100 requests are not sent again
        server.reset()
        more = cli(["judge", "score", data, "-o", out, "--base-url", server.url, *FAST])
        assert more.exit_code == 0, more.output
        assert sum(v["status"] == "scored" for v in read_jsonl(out)) >= 297
        assert server.count < 400 - 50


def test_api_key_never_reaches_disk_or_output(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    data = instruction_records(tmp_path / "data.jsonl", 30)
    out = tmp_path / "verdicts.jsonl"
    cache = tmp_path / "cache.sqlite"
    with fake_openai(judge_script()) as server:
        result = cli(
            ["judge", "score", data, "-o", out, "--base-url", server.url, "--cache", cache, *FAST[:-1]]
        )
        assert result.exit_code == 0, result.output
        assert server.seen[0].authorization == f"Bearer {KEY}"
    written = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert cache.exists() and out.exists()
    assert KEY.encode() not in written
    captured = capfd.readouterr()
    assert KEY not in result.output + captured.out + captured.err


def test_server_echoing_the_key_in_an_auth_error_is_redacted(tmp_path: Path) -> None:
    data = instruction_records(tmp_path / "data.jsonl", 50)

    def reject(body: object, n: int) -> Reply:
        return Reply(f"Incorrect API key provided: {KEY}", status=401)

    with fake_openai(reject) as server:
        result = cli(["judge", "score", data, "-o", tmp_path / "v.jsonl", "--base-url", server.url, *FAST])
        assert result.exit_code == 1
        assert "401" in result.output and KEY not in result.output
        assert server.count <= 16  # only the requests already in flight: a bad key stops the job
    assert not (tmp_path / "v.jsonl").exists()


def test_a_killed_judge_run_resumes_from_the_cache(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.llm.scripts import item_number, verdict_text

    def slow_valid(body: dict[str, Any], n: int) -> Reply:
        return Reply(verdict_text(item_number(body)), delay=0.02)

    n = 120
    data = instruction_records(tmp_path / "data.jsonl", n)
    out = tmp_path / "verdicts.jsonl"
    with fake_openai(slow_valid) as server:
        args = ["judge", "score", data, "-o", out, "--base-url", server.url, "--concurrency", "4", "-q"]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[2] / "src"), *sys.path]),
        }
        proc = subprocess.Popen([sys.executable, "-m", "curata.cli", *map(str, args)], env=env)
        deadline = time.monotonic() + 60
        while server.count < 40 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = server.count
        assert 40 <= before < n and not out.exists()
        server.reset()
        result = cli(args)
        assert result.exit_code == 0, result.output
        # at most the 4 requests in flight at the kill are asked again
        assert n - before <= server.count <= n - before + 4
    verdicts = read_jsonl(out)
    assert len(verdicts) == n and all(v["status"] == "scored" for v in verdicts)


@pytest.mark.parametrize(
    "command",
    [
        ["judge", "score"],
        ["generate", "--n=10"],
        ["rewrite", "--json-keys=answer"],
    ],
)
def test_dry_runs_estimate_and_send_nothing(tmp_path: Path, command: list[str]) -> None:
    data = instruction_records(tmp_path / "data.jsonl", 40)
    out = tmp_path / "out.jsonl"
    with fake_openai(judge_script()) as server:
        args = [*command, data, "-o", out, "--base-url", server.url]
        result = cli([*args, "--model", "gpt-4o-mini", "--dry-run"])
        assert result.exit_code == 0, result.output
        assert server.count == 0 and not out.exists()
    assert "dry run for gpt-4o-mini" in result.output and "$0.0" in result.output
    assert "requests to send" in result.output


def test_settings_and_rubric_come_from_a_recipe(tmp_path: Path) -> None:
    data = instruction_records(tmp_path / "data.jsonl", 3)
    out = tmp_path / "v.jsonl"
    with fake_openai(lambda body, n: Reply('{"tone": 4, "rationale": "fine"}')) as server:
        recipe = tmp_path / "recipe.yaml"
        recipe.write_text(
            "stages:\n  - normalize\n  - judge:\n"
            f"      llm: {{base_url: '{server.url}', model: cfg-model, concurrency: 2}}\n"
            "      rubric:\n        criteria: [{name: tone, description: is it kind}]\n  - decide\n"
        )
        result = cli(["judge", "score", data, "-o", out, "--config", recipe, "-q"])
        assert result.exit_code == 0, result.output
        assert {s.body["model"] for s in server.seen} == {"cfg-model"}
    verdicts = read_jsonl(out)
    assert [v["scores"] for v in verdicts] == [{"tone": 4.0}] * 3
    assert verdicts[0]["judge_score"] == 0.75 and verdicts[0]["rationale"] == "fine"
