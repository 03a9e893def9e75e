"""A real HTTP server on 127.0.0.1 speaking the OpenAI chat-completions protocol, with scripted
behaviours (valid answers, nonsense, 429 with Retry-After, 500, slow answers) and a request count."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    text: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Script = Callable[[dict[str, Any], int], Reply]


@dataclass
class Seen:
    body: dict[str, Any]
    authorization: str | None
    status: int


class Listener(ThreadingHTTPServer):
    # The default backlog of 5 overflows when 16 clients connect at once; the connection errors
    # that follow reach the client as requests the server never saw, and counts stop being exact.
    request_queue_size = 128


class FakeOpenAI:
    """Counts every request it receives; `script(body, n)` decides each answer (n is 0-based)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.lock = threading.Lock()
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real servers do

            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server.lock:
                    n = len(server.seen)
                    reply = server.script(body, n)
                    server.seen.append(Seen(body, self.headers.get("authorization"), reply.status))
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status == 200:
                    payload: dict[str, Any] = {
                        "id": f"chatcmpl-{n}",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "fake"),
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": reply.text},
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 50,
                            "completion_tokens": 20,
                            "total_tokens": 70,
                        },
                    }
                else:
                    payload = {"error": {"message": reply.text or f"status {reply.status}", "type": "fake"}}
                data = json.dumps(payload).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = Listener(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def count(self) -> int:
        with self.lock:
            return len(self.seen)

    def reset(self) -> None:
        with self.lock:
            self.seen.clear()

    def start(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def fake_openai(script: Script) -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(script).start()
    try:
        yield server
    finally:
        server.stop()


def last_user(body: dict[str, Any]) -> str:
    return str(next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user"))
