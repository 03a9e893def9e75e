"""How the review app scales: start-up (reading a run's outputs into the queue), a filtered search,
one record's page, and decisions per second into the store from concurrent HTTP clients.

Builds a synthetic chat dataset with exact duplicates and empty answers (so a known share of it is
in the queue), runs `curata run` on it, then measures against a real server on 127.0.0.1.

    .venv/bin/python benchmarks/review_app.py --records 50000 [--decisions 2000] [--workdir /tmp/x]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any


def records(n: int) -> list[dict[str, Any]]:
    rows = []
    for i in range(n):
        base = i - 1 if i % 10 == 1 else i  # every tenth record repeats the one before it
        answer = "" if i % 50 == 7 else f"Answer {base}: the value is {base * 3}, because {base} times 3."
        rows.append(
            {
                "id": f"r{i}",
                "messages": [
                    {"role": "user", "content": f"Question {base}: what is {base} times three?"},
                    {"role": "assistant", "content": answer},
                ],
                "label": ("math", "code", "chat")[base % 3],
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--decisions", type=int, default=2_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    import httpx
    import uvicorn

    from curata.progress import make_reporter
    from curata.review.app import ReviewConfig, create_app
    from curata.review.data import RunData, filter_queue
    from curata.review.store import ReviewStore
    from curata.runner import RunOptions, run

    work = args.workdir or Path(tempfile.mkdtemp(prefix="curata-review-bench-"))
    shutil.rmtree(work / "out", ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data.jsonl"
    with open(data, "w", encoding="utf-8") as handle:
        for row in records(args.records):
            handle.write(json.dumps(row) + "\n")
    started = time.perf_counter()
    with make_reporter(True) as reporter:
        run(RunOptions([str(data)], work / "out"), reporter)
    print(f"curata run, {args.records:,} records: {time.perf_counter() - started:.1f}s")

    started = time.perf_counter()
    run_data = RunData(work / "out")
    print(f"queue built: {len(run_data.queue):,} records in {time.perf_counter() - started:.2f}s")
    started = time.perf_counter()
    hits = filter_queue(run_data.queue, check="exact_duplicate", q="times three")
    print(f"filter + full-text search: {len(hits):,} hits in {(time.perf_counter() - started) * 1000:.0f} ms")

    tokens = {"alice": "a" * 32, "bob": "b" * 32}
    app = create_app(ReviewConfig(work / "out", tokens))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    clients = {}
    for name, token in tokens.items():
        client = httpx.Client(base_url=url, follow_redirects=True, timeout=60)
        page = client.get(f"/?token={token}")
        csrf = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
        assert csrf
        clients[name] = (client, csrf.group(1))
    started = time.perf_counter()
    for item in run_data.queue[:50]:
        clients["alice"][0].get("/item", params={"id": item.id}).raise_for_status()
    print(f"record page: {(time.perf_counter() - started) / 50 * 1000:.0f} ms each")
    ids = [item.id for item in run_data.queue[: args.decisions // 2]]
    jobs = [(name, rid) for rid in ids for name in tokens]

    def decide(job: tuple[str, str]) -> int:
        client, csrf = clients[job[0]]
        form = {"id": job[1], "action": "accept", "csrf": csrf}
        response = client.post("/decide", data=form, headers={"HX-Request": "true"})
        return response.status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(decide, jobs))
    elapsed = time.perf_counter() - started
    stored = len(ReviewStore(work / "out" / "review" / "decisions.sqlite").decisions())
    print(
        f"{len(jobs):,} decisions from 2 reviewers x 8 threads: {len(jobs) / elapsed:.0f}/s, "
        f"{codes.count(200):,} ok, {stored:,} stored"
    )
    server.should_exit = True


if __name__ == "__main__":
    main()
