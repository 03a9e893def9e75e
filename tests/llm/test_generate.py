"""Generation against the fake server: dedup against the data, the judge gate, provenance, gap
targets from a run's findings, and reruns answered from the cache."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from curata.llm.dedup import NearDuplicateIndex
from curata.llm.generate import Target, gap_targets, parse_target, tasks_from
from tests.conftest import cli, read_jsonl, write_jsonl
from tests.llm.fake_server import Reply, fake_openai, last_user

FAST = ["--backoff-base", "0.001", "-q"]
SEEDS = [
    "Write a haiku about the autumn sea and the gulls above it",
    "Explain how a bicycle gear system changes the effort needed to climb a hill",
    "List three ways to reduce food waste in a small restaurant kitchen",
    "Translate the sentence 'the library opens at nine' into French",
]


FRESH = [
    "Design a seven-day meal plan for a marathon runner",
    "Summarise the causes of the French revolution for a ten year old",
    "Write a Python function that checks whether a string is a palindrome",
    "Compare the climates of Norway and Chile in one paragraph",
    "Draft a polite email asking a landlord to fix a leaking tap",
    "Give five interview questions for a junior data analyst",
    "Explain photosynthesis using a cooking analogy",
    "Suggest a name and slogan for a bakery that sells only rye bread",
]


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key-000000")


def scores(value: int) -> str:
    names = ("helpfulness", "correctness", "instruction_following", "clarity")
    return json.dumps(dict.fromkeys(names, value))


def generator_server(body: dict[str, Any], n: int) -> Reply:
    text = last_user(body)
    if text.startswith("Rate the assistant"):
        return Reply(scores(1 if "boring" in text else 4))
    if text.startswith("Here are example tasks"):
        batch = int(re.search(r"\(batch (\d+)\)", text).group(1))  # type: ignore[union-attr]
        label = re.search(r"correct label is '([^']+)'", text)
        if label:
            return Reply(
                json.dumps([f"A {label.group(1)} example text number {batch}-{i}" for i in range(3)])
            )
        tasks = [
            SEEDS[0],  # an exact copy of a seed
            SEEDS[1].replace("climb", "ride up"),  # a near copy
            f"Describe a boring spreadsheet number {batch}",  # the judge rejects it
            FRESH[2 * batch],
            FRESH[2 * batch + 1],
        ]
        return Reply("```json\n" + json.dumps(tasks) + "\n```")
    if "harder version" in text or "brand-new task" in text:
        task = text.split("Task:\n")[1].split("\n\nReply")[0]
        start = " ".join(task.split()[:3])
        return Reply(f"New task: {start}, evolved: {FRESH[n % len(FRESH)].lower()}")
    return Reply(f"A careful answer to: {text[:40]}")


def test_self_instruct_dedups_judges_and_records_provenance(tmp_path: Path) -> None:
    seeds = write_jsonl(
        tmp_path / "seeds.jsonl",
        [{"id": f"s{i}", "instruction": t, "output": "..."} for i, t in enumerate(SEEDS)],
    )
    out = tmp_path / "synthetic.jsonl"
    args = ["generate", seeds, "-o", out, "--n", "6", *FAST]
    with fake_openai(generator_server) as server:
        result = cli([*args, "--base-url", server.url])
        assert result.exit_code == 0, result.output
        sent = server.count
        rows = read_jsonl(out)
        assert len(rows) == 6
        assert all(r["source"] == "synthetic" and r["provenance"]["model"] == "gpt-4o-mini" for r in rows)
        assert all(
            r["provenance"]["prompt_id"] == "self-instruct-v1" and r["provenance"]["judge_score"] >= 0.6
            for r in rows
        )
        assert len({r["id"] for r in rows}) == 6
        assert not any("boring" in r["instruction"] or r["instruction"] in SEEDS for r in rows)
        assert all(r["output"].startswith("A careful answer") for r in rows)
        assert "exact_duplicate" in result.output and "near_duplicate" in result.output
        assert "low_judge_score" in result.output
        server.reset()
        again = cli([*args, "--base-url", server.url])
        assert again.exit_code == 0 and server.count == 0
        assert read_jsonl(out) == rows
    assert sent > 6
    # the output is ordinary input for `curata run`
    run = cli(["run", out, "-o", tmp_path / "run", "--quiet"])
    assert run.exit_code == 0, run.output


def test_evol_instruct_deepens_and_broadens(tmp_path: Path) -> None:
    seeds = write_jsonl(tmp_path / "seeds.jsonl", [{"instruction": t, "output": "..."} for t in SEEDS[:2]])
    out = tmp_path / "evolved.jsonl"
    with fake_openai(generator_server) as server:
        result = cli(
            ["generate", seeds, "-o", out, "--method", "evol", "--n", "4", "--base-url", server.url, *FAST]
        )
    assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    assert len(rows) == 4
    assert {r["provenance"]["method"] for r in rows} == {"evol-deepen", "evol-broaden"}
    assert all("evolved: " in r["instruction"] and r["provenance"]["seed_ids"] for r in rows)


def test_gap_filling_reads_the_runs_findings(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_jsonl(
        run_dir / "findings.jsonl",
        [
            {"id": "r1", "check": "pii", "severity": "warning", "message": "x", "related": []},
            {"id": None, "check": "coverage_gap", "severity": "warning", "kind": "label", "name": "sports",
             "count": 1, "related": [],
             "message": "declared label 'sports' has 1 record(s); at least 3 expected"},
            {"id": None, "check": "class_imbalance", "severity": "warning", "message": "labels: ...",
             "classes": {"world": 40, "business": 30, "sports": 1}, "related": []},
        ],
    )  # fmt: skip
    seeds = write_jsonl(
        tmp_path / "news.jsonl",
        [{"text": f"headline {i} about markets and trade", "label": "business"} for i in range(3)]
        + [{"text": "the home team won the cup final", "label": "sports"}],
    )
    out = tmp_path / "fill.jsonl"
    with fake_openai(generator_server) as server:
        result = cli(["generate", seeds, "-o", out, "--method", "gaps", "--run", run_dir, "--n", "2",
                      "--base-url", server.url, *FAST])  # fmt: skip
        assert result.exit_code == 0, result.output
    rows = read_jsonl(out)
    assert "label=sports:2" in result.output
    assert [r["label"] for r in rows] == ["sports"] * 4
    assert all(set(r) >= {"text", "label", "source", "provenance"} and "instruction" not in r for r in rows)
    assert all(r["provenance"]["prompt_id"] == "gap-fill-v1" for r in rows)


def test_gaps_without_targets_is_a_clear_error(tmp_path: Path) -> None:
    seeds = write_jsonl(tmp_path / "s.jsonl", [{"instruction": "x task here", "output": "y"}])
    result = cli(["generate", seeds, "-o", tmp_path / "o.jsonl", "--method", "gaps"])
    assert result.exit_code == 1 and "--run" in result.output


def test_targets_and_task_lists() -> None:
    assert parse_target("label=neg:7", 3) == Target("label", "neg", 7)
    assert parse_target("topic=cooking", 3) == Target("topic", "cooking", 3)
    with pytest.raises(ValueError):
        parse_target("colour=red", 3)
    targets = gap_targets([{"check": "class_imbalance", "classes": {"a": 100, "b": 10, "c": 80}}], 25)
    assert targets == [Target("label", "b", 25)]
    assert tasks_from("1. Write a poem about rain\n2. Explain gravity to a child\nthanks") == [
        "Write a poem about rain",
        "Explain gravity to a child",
    ]


def test_near_duplicate_index() -> None:
    index = NearDuplicateIndex()
    index.add("Explain how a bicycle gear system changes the effort needed to climb a hill")
    assert (
        index.match("explain how a BICYCLE gear system changes the effort needed to climb a hill!") == "exact"
    )
    assert (
        index.match("Explain how a bicycle gear system changes the effort needed to ride up a hill") == "near"
    )
    assert index.match("Write a sonnet about the moon") is None


def test_thin_topic_clusters_are_filled_from_their_own_examples(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_jsonl(
        run_dir / "findings.jsonl",
        [{"id": None, "check": "coverage_gap", "severity": "warning", "kind": "topic_cluster", "name": 3,
          "count": 1, "related": [], "message": "topic cluster 3 has 1 record(s), under 20% of the mean"}],
    )  # fmt: skip
    ids = [f"s{i}" for i in range(len(SEEDS))]
    pq.write_table(pa.table({"id": ids, "topic_cluster": [0, 3, 0, 0]}), run_dir / "signals.parquet")
    seeds = write_jsonl(
        tmp_path / "seeds.jsonl",
        [{"id": i, "instruction": t, "output": "."} for i, t in zip(ids, SEEDS, strict=True)],
    )
    with fake_openai(generator_server) as server:
        result = cli(["generate", seeds, "-o", tmp_path / "o.jsonl", "--method", "gaps", "--run", run_dir,
                      "--n", "2", "--base-url", server.url, *FAST])  # fmt: skip
        assert result.exit_code == 0, result.output
        asks = [last_user(s.body) for s in server.seen if last_user(s.body).startswith("Here are example")]
    assert asks and all(SEEDS[1] in a and SEEDS[0] not in a for a in asks)
    assert all("same subject as the example tasks" in a for a in asks)
    assert "topic_cluster=3" in result.output


def test_a_truncated_json_list_still_gives_its_complete_tasks() -> None:
    assert tasks_from('["Write a limerick about cats", "Explain why the sky is bl') == [
        "Write a limerick about cats"
    ]


def test_max_rounds_caps_the_proposal_requests_of_a_model_that_proposes_nothing(tmp_path: Path) -> None:
    seeds = write_jsonl(tmp_path / "seeds.jsonl", [{"instruction": s, "output": "ok"} for s in SEEDS])
    out = tmp_path / "new.jsonl"
    with fake_openai(lambda body, n: Reply("I like turtles.")) as server:
        result = cli(
            ["generate", seeds, "-o", out, "--n", "20", "--max-rounds", "3", "--base-url", server.url, *FAST]
        )
        assert result.exit_code == 0, result.output
        assert server.count == 3  # without the cap: 4 x 20 / 5 = 16 rounds
    assert read_jsonl(out) == []
