"""A small chat dataset with duplicates, empty answers and conflicting answers, run through
`curata run`, for the review app's tests."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import cli, write_jsonl

LABELS = ("math", "code", "chat")


def chat(rid: str, prompt: str, answer: str, label: str) -> dict[str, Any]:
    return {
        "id": rid,
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
        "label": label,
    }


def review_records() -> list[dict[str, Any]]:
    """27 records: 6 exact duplicates, 3 empty answers, 4 pairs answering one prompt differently."""
    rows: list[dict[str, Any]] = []
    for i in range(6):
        answer = f"The answer to question {i} is **{i * 7}**.\n\n```python\nprint({i} * 7)\n```"
        rows.append(chat(f"orig-{i}", f"What is {i} times seven?", answer, LABELS[i % 3]))
        rows.append(chat(f"dup-{i}", f"what is {i} times  SEVEN?", answer.upper(), LABELS[i % 3]))
    for i in range(3):
        rows.append(chat(f"empty-{i}", f"Write a haiku about topic {i}.", "   ", "chat"))
    for i in range(4):
        prompt = f"Name a colour number {i}."
        rows.append(chat(f"conflict-{i}a", prompt, f"Red, shade {i}.", "chat"))
        rows.append(chat(f"conflict-{i}b", prompt, f"Blue, shade {i}; certainly not red.", "chat"))
    for i in range(4):
        rows.append(
            chat(f"clean-{i}", f"Explain idea {i} briefly.", f"Idea {i} means something useful.", "chat")
        )
    return rows


def run_to(data: Path, out: Path) -> None:
    result = cli(["run", data, "-o", out, "--quiet"])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="session")
def base_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One finished run shared by the tests (each test works on its own copy)."""
    root = tmp_path_factory.mktemp("review-base")
    data = write_jsonl(root / "chat.jsonl", review_records())
    out = root / "out"
    run_to(data, out)
    return data, out


@pytest.fixture
def review_run(base_run: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path]:
    """(input file, a fresh copy of the finished run directory)."""
    data, out = base_run
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    return data, copy


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    tokens: dict[str, str]
    out: Path

    def login(self, reviewer: str) -> str:
        return f"{self.url}/?token={self.tokens[reviewer]}"


@contextmanager
def serve(out: Path, reviewers: Sequence[str], overlap: int | None = None) -> Iterator[Server]:
    """The review app on a real HTTP server (uvicorn on 127.0.0.1, a free port) in a thread."""
    import uvicorn

    from curata.review.app import ReviewConfig, create_app
    from curata.review.auth import load_tokens
    from curata.review.cli import tokens_path

    tokens = load_tokens(tokens_path(out), list(reviewers))
    app = create_app(ReviewConfig(out, tokens, overlap))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "review server did not start"
        time.sleep(0.05)
    try:
        yield Server(f"http://127.0.0.1:{port}", tokens, out)
    finally:
        server.should_exit = True
        thread.join(10)
