"""Scripted judge behaviours for the fake server, and records to judge."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import write_jsonl
from tests.llm.fake_server import Reply, last_user

ITEM = re.compile(r"question number (\d+)")
REPAIR_MARK = "Your reply could not be read"
NONSENSE = "What a lovely answer, I enjoyed reading it!"


def item_number(body: dict[str, Any]) -> int:
    texts = " ".join(m["content"] for m in body["messages"] if m["role"] == "user")
    match = ITEM.search(texts)
    return int(match.group(1)) if match else -1


def verdict_text(i: int) -> str:
    """A valid verdict, in one of the shapes real models produce."""
    score = 1 + i % 5
    plain = {
        "helpfulness": score,
        "correctness": score,
        "instruction_following": score,
        "clarity": score,
        "rationale": f"item {i}",
    }
    shapes = [
        json.dumps(plain),
        "```json\n" + json.dumps(plain) + "\n```",
        "Here is my verdict: " + json.dumps(plain) + " Hope this helps.",
        str(plain),  # Python repr: single quotes
        f"Helpfulness: {score}\nCorrectness: {score}\nInstruction following: {score}\nClarity: {score}",
        f"Score: {score}",
    ]
    return shapes[i % len(shapes)]


def judge_script(malformed_every: int = 10, hopeless_every: int = 200, errors: bool = True) -> Any:
    """10% first replies are nonsense (a repair fixes all but 0.5%); every 9th request is a 429 with
    Retry-After, every 13th a 500."""

    def script(body: dict[str, Any], n: int) -> Reply:
        if errors and n % 9 == 4:
            return Reply("slow down", status=429, headers={"retry-after-ms": "5"})
        if errors and n % 13 == 7:
            return Reply("internal error", status=500)
        i = item_number(body)
        repair = last_user(body).startswith(REPAIR_MARK)
        if i % hopeless_every == 0 or (i % malformed_every == 0 and not repair):
            return Reply(NONSENSE)
        return Reply(verdict_text(i))

    return script


def instruction_records(path: Path, n: int) -> Path:
    rows = [
        {
            "id": f"r{i}",
            "instruction": f"Answer question number {i}: what is {i} plus {i}?",
            "input": "",
            "output": f"{i} plus {i} is {2 * i}.",
        }
        for i in range(n)
    ]
    return write_jsonl(path, rows)
