"""The review app in headless Chromium (Debian's, driven by Playwright): a keyboard review whose
decisions the next `curata run` applies, untrusted record text that must never execute, and two
reviewers working at once. With CURATA_SCREENSHOTS=1 the main screens go to docs/images/."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.browser import chromium
from tests.conftest import read_jsonl, write_jsonl
from tests.review.conftest import chat, free_port, run_to, serve

from curata.review.loop import store_path
from curata.review.store import ReviewStore

pytest.importorskip("playwright")
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = os.environ.get("CURATA_SCREENSHOTS") == "1"


def screenshot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(REPO / "docs" / "images" / f"review-{name}.png"), full_page=False)


@contextmanager
def cli_server(out: Path, reviewer: str) -> Iterator[str]:
    """`curata review OUT` as a user runs it: a subprocess that prints the URL with the token."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "curata.cli", "review", str(out), "--reviewer", reviewer, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith(f"{reviewer}: http://127.0.0.1:{port}/?token="), line
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "server did not listen"
                time.sleep(0.1)
        yield line.split(": ", 1)[1]
    finally:
        proc.terminate()
        proc.wait(10)


def current_id(page: Any) -> str:
    return str(page.locator("#detail article.record").get_attribute("data-id"))


def wait_for_record(page: Any, rid: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            # The record is shown and htmx has finished wiring it (no request or settle pending).
            "id => document.querySelector('#detail article.record')?.dataset.id === id"
            " && !document.querySelector('.htmx-settling, .htmx-request, .htmx-swapping')",
            arg=rid,
            timeout=15_000,
        )
    except PlaywrightTimeout:
        state = page.evaluate(
            """() => ({detail: document.querySelector('#detail article.record')?.dataset.id,
                       row: document.querySelector('#queue li.current')?.dataset.id,
                       focus: document.activeElement?.tagName + '#' + document.activeElement?.id,
                       mine: document.querySelector('#my-status')?.innerText})"""
        )
        raise AssertionError(f"waiting for {rid}: {state}") from None


def row_ids(page: Any) -> list[str]:
    return [str(x) for x in page.locator("#queue li.row").evaluate_all("rows => rows.map(r => r.dataset.id)")]


def test_keyboard_review_is_applied_by_the_next_run(review_run: tuple[Path, Path]) -> None:
    data, out = review_run
    expected: dict[str, str] = {}
    with cli_server(out, "alice") as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        assert "token=" not in page.url  # moved into a cookie
        ids = row_ids(page)
        assert len(ids) >= 13
        wait_for_record(page, ids[0])
        for i, rid in enumerate(ids[:10]):
            assert current_id(page) == rid
            if i % 3 == 0:
                page.keyboard.press("r")
                page.keyboard.type(f"bad example {i}")
                page.keyboard.press("Enter")
                expected[rid] = "reject"
            else:
                page.keyboard.press("a")
                expected[rid] = "accept"
            wait_for_record(page, ids[i + 1])
        # Undo with the keyboard: accept, then take it back.
        page.keyboard.press("k")
        wait_for_record(page, ids[9])
        page.keyboard.press("j")
        wait_for_record(page, ids[10])
        screenshot(page, "queue")
        edited, relabelled = ids[10], ids[11]
        page.keyboard.press("e")
        page.keyboard.press("Control+a")
        page.keyboard.type("A corrected answer, written by a human.")
        page.keyboard.press("Control+Enter")
        page.wait_for_selector("#my-status .badge.touched")
        page.keyboard.press("j")
        wait_for_record(page, relabelled)
        old_label = page.locator("#current-label").inner_text()
        key = "2" if old_label != "code" else "3"
        new_label = "code" if key == "2" else "math"
        page.keyboard.press(key)
        page.wait_for_selector(f"#my-status >> text=label {new_label}")
        page.keyboard.press("j")
        wait_for_record(page, ids[12])
        page.keyboard.press("a")
        wait_for_record(page, ids[13])
        page.keyboard.press("u")  # restores ids[12] and shows it
        wait_for_record(page, ids[12])
        assert page.locator("#my-status").inner_text().strip() == "open"
        page.reload()
        statuses = {
            rid: page.locator(f'#queue li.row[data-id="{rid}"] .status').inner_text().strip()
            for rid in ids[:13]
        }
        for rid, verdict in expected.items():
            assert statuses[rid] == verdict, (rid, statuses[rid])
        assert statuses[edited] == "edited"
        assert statuses[relabelled] == f"label {new_label}"
        assert statuses[ids[12]] == "open"
        if SCREENSHOTS:
            page.goto(url.split("?")[0] + f"?id={ids[1]}")
            wait_for_record(page, ids[1])
            page.locator("section.duplicate").scroll_into_view_if_needed()
            screenshot(page, "duplicate")
        assert dialogs == []
    rerun = subprocess.run(
        [sys.executable, "-m", "curata.cli", "run", str(data), "-o", str(out), "--quiet"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    curated = {r["id"]: r for r in read_jsonl(out / "curated.jsonl")}
    rejected = {r["id"]: r for r in read_jsonl(out / "rejected.jsonl")}
    for rid, verdict in expected.items():
        if verdict == "accept":
            assert rid in curated, rid
        else:
            assert rejected[rid]["reasons"][0] == "human_reject"
            assert rejected[rid]["decided_by"] == "human:alice"
    assert curated[edited]["messages"][-1]["content"] == "A corrected answer, written by a human."
    assert curated[relabelled]["label"] == new_label
    assert ids[12] in rejected or ids[12] in curated
    findings = read_jsonl(out / "findings.jsonl")
    rejected_messages = [f["message"] for f in findings if f["check"] == "human_reject"]
    assert sorted(rejected_messages) == sorted(
        f"reject by alice: bad example {i}" for i, rid in enumerate(ids[:10]) if i % 3 == 0
    )


HOSTILE = [
    "<script>window.pwned = 'script'; alert(1)</script>",
    "<img src=x onerror=\"window.pwned='img'\">",
    "[click me](javascript:window.pwned='md-link') and <a href=\"javascript:window.pwned='a'\">raw link</a>",
    "<iframe srcdoc=\"<script>parent.pwned='iframe'</script>\"></iframe>",
    "</textarea><script>window.pwned='textarea'</script><textarea>",
    "<div><table><tr><td>unclosed <b><i>broken <!-- comment",
    '<div hx-post="/undo" hx-trigger="load">htmx attribute</div> <svg onload="window.pwned=\'svg\'">',
    "```html\n<script>window.pwned='code'</script>\n```\n{{ 7*7 }} ${7*7}",
]

# What each hostile text must look like on the page: its markup, as visible text.
SHOWN = [
    "<script>window.pwned = 'script'",
    "<img src=x onerror=",
    "[click me](javascript:window.pwned='md-link')",
    "<iframe srcdoc=",
    "</textarea><script>",
    "<div><table><tr><td>unclosed",
    '<div hx-post="/undo" hx-trigger="load">',
    "<script>window.pwned='code'</script>",
]


def hostile_records() -> list[dict[str, Any]]:
    rows = []
    for i, text in enumerate(HOSTILE):
        rid = f'evil-{i}"><img src=x onerror="window.pwned=\'id\'">'
        label = "</option><script>window.pwned='label'</script>" if i % 2 else "chat"
        rows.append(chat(f"{rid}-keep", f"Prompt {i}: {text}", f"Answer: {text}", label))
        rows.append(chat(f"{rid}-copy", f"prompt {i}: {text}", f"ANSWER: {text}", label))
    return rows


def test_hostile_record_text_never_executes(tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "evil.jsonl", hostile_records())
    out = tmp_path / "out"
    run_to(data, out)
    with serve(out, ["alice"]) as server, chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        dialogs: list[str] = []
        console: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: console.append(m.text))
        page.on("pageerror", lambda e: console.append(str(e)))
        page.goto(server.login("alice"))
        ids = row_ids(page)
        # Every rejected copy is queued (other checks may queue a few originals too).
        assert len([i for i in ids if i.endswith("-copy")]) == len(HOSTILE)
        for rid in ids:
            page.locator(f"#queue li.row[data-id='{rid.replace(chr(39), chr(92) + chr(39))}']").click()
            wait_for_record(page, rid)
            page.locator("#edit-box summary").click()
            page.wait_for_timeout(50)
            assert page.evaluate("window.pwned") is None
            # Shown, as text: the reviewer sees exactly what is in the data.
            index = int(rid.split("-")[1].split('"')[0])
            assert SHOWN[index] in page.locator("#detail .conversation").inner_text()
            state = page.evaluate(
                """() => ({
                    scripts: document.scripts.length,
                    handlers: document.querySelectorAll('[onerror],[onload],[onclick]').length,
                    jsLinks: document.querySelectorAll('a[href^="javascript" i]').length,
                    frames: document.querySelectorAll('iframe,img,svg').length,
                    hx: document.querySelectorAll('#detail .content [hx-post]').length,
                    textareas: document.querySelectorAll('textarea').length,
                    rows: document.querySelectorAll('#queue li.row').length,
                })"""
            )
            assert state == {
                "scripts": 2,
                "handlers": 0,
                "jsLinks": 0,
                "frames": 0,
                "hx": 0,
                "textareas": 1,
                "rows": len(ids),
            }
        assert page.locator("#reviewer").inner_text() == "alice"
        assert page.locator("#detail .turn").count() >= 2
        screenshot(page, "hostile")
        assert dialogs == []
        assert not [m for m in console if "Refused" in m or "Content Security Policy" in m]
        assert page.evaluate("window.pwned") is None


def test_two_reviewers_in_two_browsers_at_once(review_run: tuple[Path, Path]) -> None:
    _, out = review_run
    with serve(out, ["alice", "bob"]) as server, chromium() as browser:
        pages = {}
        for name in ("alice", "bob"):
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            pages[name] = context.new_page()
            pages[name].goto(server.login(name))
        ids = row_ids(pages["alice"])
        assert row_ids(pages["bob"]) == ids
        for i, rid in enumerate(ids[:8]):
            for page in pages.values():
                wait_for_record(page, rid)
            # Both press at once; neither waits for the other's request.
            pages["alice"].keyboard.press("a" if i % 3 else "n")
            pages["bob"].keyboard.press("a" if i % 4 else "n")
        for page in pages.values():
            wait_for_record(page, ids[8])
        store = ReviewStore(store_path(out))
        states = {(d.record_id, d.reviewer): d.state.status for d in store.decisions()}
        for i, rid in enumerate(ids[:8]):
            assert states[(rid, "alice")] == ("accept" if i % 3 else "needs_rewrite")
            assert states[(rid, "bob")] == ("accept" if i % 4 else "needs_rewrite")
        audit = store.audit()
        assert len(audit) == 16
        assert sorted((e.reviewer, e.record_id) for e in audit) == sorted(
            (name, rid) for name in ("alice", "bob") for rid in ids[:8]
        )
        page = pages["alice"]
        page.goto(server.url + "/agreement")
        cells = page.locator("#kappa tr", has_text="bob").first.locator("td").all_inner_texts()
        # 5 of 8 agree; alice drops 3/8, bob 2/8: chance 3/8*2/8 + 5/8*6/8 = 0.5625, kappa = 0.14
        assert cells == ["alice", "bob", "8", "62%", "0.14"]
        page.set_viewport_size({"width": 900, "height": 330})
        screenshot(page, "agreement")
        page.goto(server.url + "/audit")
        assert page.locator("#audit tr").count() == 17
