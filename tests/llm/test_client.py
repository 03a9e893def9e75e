"""The client against the fake server: Retry-After, timeouts, 5xx, the cache and the budget."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from curata.llm.budget import BudgetExhaustedError
from curata.llm.cache import CompletionCache
from curata.llm.client import LLMClient
from curata.llm.config import LLMSettings, Price
from curata.llm.judge import compare
from curata.llm.request import ChatRequest
from curata.llm.retry import FatalLLMError, RequestFailedError, backoff_delay, parse_retry_after
from tests.llm.fake_server import Reply, fake_openai, last_user


def settings(url: str, **extra: Any) -> LLMSettings:
    return LLMSettings(base_url=url, model="fake", backoff_base=0.001, **extra)


def ask(text: str) -> ChatRequest:
    return ChatRequest.of([{"role": "user", "content": text}], max_tokens=16)


def run(client: LLMClient, *requests: ChatRequest) -> list[Any]:
    async def go() -> list[Any]:
        try:
            return await asyncio.gather(*(client.complete(r) for r in requests), return_exceptions=True)
        finally:
            await client.close()

    return asyncio.run(go())


def test_retry_after_header_is_honoured() -> None:
    times: list[float] = []

    def script(body: dict[str, Any], n: int) -> Reply:
        times.append(time.monotonic())
        return Reply("busy", 429, {"Retry-After": "1"}) if n == 0 else Reply("ok")

    with fake_openai(script) as server:
        client = LLMClient(settings(server.url))
        (answer,) = run(client, ask("hi"))
    assert answer.text == "ok"
    assert times[1] - times[0] >= 0.95
    assert client.stats.retries == 1 and client.stats.requests_sent == 2


def test_timeout_is_retried_and_slow_answers_are_not() -> None:
    def script(body: dict[str, Any], n: int) -> Reply:
        if last_user(body) == "timeout-once" and n == 0:
            return Reply("late", delay=4.0)
        return Reply("ok", delay=0.3)

    with fake_openai(script) as server:
        client = LLMClient(settings(server.url, timeout=2.0))
        (answer,) = run(client, ask("timeout-once"))
        assert answer.text == "ok"
        assert client.stats.retries == 1
        slow = LLMClient(settings(server.url, timeout=2.0))
        (answer,) = run(slow, ask("slow"))
        assert answer.text == "ok" and slow.stats.retries == 0


def test_persistent_500_gives_up_after_max_retries_for_that_request_only() -> None:
    def script(body: dict[str, Any], n: int) -> Reply:
        return Reply("boom", 500) if last_user(body) == "bad" else Reply("fine")

    with fake_openai(script) as server:
        client = LLMClient(settings(server.url, max_retries=3))
        bad, good = run(client, ask("bad"), ask("good"))
        assert isinstance(bad, RequestFailedError) and "4 attempts" in str(bad)
        assert good.text == "fine"
        assert server.count == 4 + 1


def test_bad_request_is_not_retried() -> None:
    with fake_openai(lambda body, n: Reply("context too long", 400)) as server:
        client = LLMClient(settings(server.url))
        (error,) = run(client, ask("x"))
        assert isinstance(error, RequestFailedError) and server.count == 1


def test_unreachable_server_is_fatal_after_retries() -> None:
    client = LLMClient(settings("http://127.0.0.1:9/v1", max_retries=1))
    (error,) = run(client, ask("x"))
    assert isinstance(error, FatalLLMError) and "cannot reach" in str(error)


def test_cache_answers_reruns_and_survives_reopening(tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    with fake_openai(lambda body, n: Reply(f"answer to {last_user(body)}")) as server:
        first = LLMClient(settings(server.url), CompletionCache(db))
        run(first, ask("a"), ask("b"))
        first.cache.close()
        second = LLMClient(settings(server.url), CompletionCache(db))
        a, c = run(second, ask("a"), ask("c"))
        assert a.cached and a.text == "answer to a" and not c.cached
        assert server.count == 3
        # a different parameter is a different request
        other = LLMClient(settings(server.url), CompletionCache(db))
        run(other, ChatRequest.of([{"role": "user", "content": "a"}], max_tokens=17))
        assert server.count == 4


def test_max_cost_stops_before_spending_past_the_cap() -> None:
    price = {"fake": Price(input=1000.0, output=1000.0)}  # $0.001 per token
    with fake_openai(lambda body, n: Reply("ok")) as server:
        client = LLMClient(settings(server.url, max_cost=0.5, prices=price, concurrency=1))
        answers = run(client, *(ask(f"question {i}") for i in range(20)))
    sent = [a for a in answers if not isinstance(a, Exception)]
    stopped = [a for a in answers if isinstance(a, BudgetExhaustedError)]
    assert sent and stopped and len(sent) + len(stopped) == 20
    # the server reports 70 tokens ($0.07) a request, three times the first estimate: the first
    # request teaches the budget to reserve more, so at most that one request overshoots
    assert client.stats.cost <= 0.5 + 0.07
    assert len(sent) >= 5
    assert client.stats.budget_exhausted == "max_cost"


def test_dry_run_estimates_only_uncached_requests() -> None:
    client = LLMClient(LLMSettings(model="gpt-4o-mini"))
    text = client.dry_run([ask("hello there"), ask("general kenobi")])
    assert "2 requests" in text and "$" in text
    assert "unknown" in LLMClient(LLMSettings(model="my-local-model")).dry_run([ask("x")])


def test_pairwise_comparison_asks_both_orders_and_cancels_position_bias() -> None:
    def prefers_long(body: dict[str, Any], n: int) -> Reply:
        text = last_user(body)
        a = text.split("### Answer A\n")[1].split("\n\n### Answer B")[0]
        b = text.split("### Answer B\n")[1].split("\n\nWhich")[0]
        return Reply('{"winner": "%s"}' % ("A" if len(a) > len(b) else "B"))

    def always_first(body: dict[str, Any], n: int) -> Reply:
        return Reply("Winner: A")

    with fake_openai(prefers_long) as server:
        client = LLMClient(settings(server.url))
        result = asyncio.run(compare(client, "Explain tides.", "Short.", "A much longer answer."))
        assert result.winner == "b" and result.consistent and server.count == 2
    with fake_openai(always_first) as server:
        client = LLMClient(settings(server.url))
        result = asyncio.run(compare(client, "Explain tides.", "Short.", "A much longer answer."))
        assert result.winner == "tie" and not result.consistent


def test_backoff_is_exponential_with_jitter_and_retry_after_wins() -> None:
    import random

    rng = random.Random(1)
    delays = [backoff_delay(a, 0.5, 30, None, 120, rng) for a in range(8)]
    assert all(0 <= d <= min(30, 0.5 * 2**a) for a, d in enumerate(delays))
    assert len(set(delays)) == len(delays)
    assert backoff_delay(0, 0.5, 30, 7.0, 120) == 7.0
    assert backoff_delay(0, 0.5, 30, 7200.0, 120) == 120
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({}) is None


def test_recipes_cannot_hold_api_keys() -> None:
    with pytest.raises(ValueError, match="environment variable"):
        LLMSettings.model_validate({"api_key": "sk-xyz"})


def test_compare_command_on_real_preference_pairs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import cli, read_jsonl

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-000000")
    dpo = Path(__file__).parents[1] / "data" / "real" / "dpo_en_demo.json"

    def prefers_long(body: dict[str, Any], n: int) -> Reply:
        text = last_user(body)
        a = text.split("### Answer A\n")[1].split("\n\n### Answer B")[0]
        b = text.split("### Answer B\n")[1].split("\n\nWhich")[0]
        return Reply('{"winner": "%s"}' % ("A" if len(a) > len(b) else "B"))

    out = tmp_path / "pairs.jsonl"
    with fake_openai(prefers_long) as server:
        result = cli(["judge", "compare", dpo, "-o", out, "--base-url", server.url, "-q"])
        assert result.exit_code == 0, result.output
        verdicts = read_jsonl(out)
        assert server.count == 2 * len(verdicts)
    assert {v["winner"] for v in verdicts} <= {"a", "b", "tie"}
    assert all(v["consistent"] for v in verdicts if v["winner"] != "tie")
    assert "position bias" in result.output


def test_compare_command_gets_the_llm_pairwise_judge_from_curata_llm() -> None:
    """`curata compare --judge llm` finds this judge; it answers one order per call."""
    from curata.llm.pairwise import make_pairwise_judge
    from curata.train.judge import load_judge

    def prefers_long(body: dict[str, Any], n: int) -> Reply:
        text = last_user(body)
        a = text.split("### Answer A\n")[1].split("\n\n### Answer B")[0]
        b = text.split("### Answer B\n")[1].split("\n\nWhich")[0]
        return Reply('{"winner": "%s"}' % ("A" if len(a) > len(b) else "B"))

    judge, how = load_judge("llm")
    assert judge is not None and "curata.llm" in how
    with fake_openai(prefers_long) as server:
        judge = make_pairwise_judge(settings(server.url))
        assert judge("Explain tides.", "Short.", "A much longer answer.") == "b"
        assert judge("Explain tides.", "A much longer answer.", "Short.") == "a"
        assert server.count == 2
