"""The review server over real HTTP on 127.0.0.1: tokens, CSRF, origin checks, security headers,
and two reviewers posting decisions on the same records at the same time."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from tests.review.conftest import Server, serve

from curata.review.loop import store_path
from curata.review.store import ReviewStore


def session(server: Server, reviewer: str) -> tuple[httpx.Client, str]:
    """A logged-in client (cookie from the token URL) and its CSRF token."""
    client = httpx.Client(base_url=server.url, timeout=30, follow_redirects=True)
    first = client.get(f"/?token={server.tokens[reviewer]}")
    assert first.status_code == 200 and first.history[0].status_code == 303
    match = re.search(r'data-csrf="([0-9a-f]+)"', first.text)
    assert match
    return client, match.group(1)


def test_every_path_needs_a_token(review_run: tuple[Path, Path]) -> None:
    _, out = review_run
    with serve(out, ["alice"]) as server:
        for path in ("/", "/item?id=dup-0", "/static/htmx.min.js", "/agreement", "/audit"):
            response = httpx.get(server.url + path)
            assert response.status_code == 401, path
            response = httpx.get(server.url + path, headers={"Authorization": "Bearer wrong"})
            assert response.status_code == 401, path
        assert httpx.post(server.url + "/decide", data={"id": "dup-0", "action": "accept"}).status_code == 401


def test_token_becomes_a_strict_cookie_and_pages_carry_a_csp(review_run: tuple[Path, Path]) -> None:
    _, out = review_run
    with serve(out, ["alice"]) as server:
        redirect = httpx.get(server.login("alice"))
        assert redirect.status_code == 303 and redirect.headers["location"] == "/"
        cookie = redirect.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        client, _ = session(server, "alice")
        page = client.get("/")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert client.get("/static/htmx.min.js").status_code == 200


def test_state_changes_need_the_reviewers_own_csrf_token(review_run: tuple[Path, Path]) -> None:
    _, out = review_run
    with serve(out, ["alice", "bob"]) as server:
        alice, alice_csrf = session(server, "alice")
        _, bob_csrf = session(server, "bob")
        form = {"id": "dup-0", "action": "accept"}
        assert alice.post("/decide", data=form).status_code == 403
        assert alice.post("/decide", data={**form, "csrf": "0" * 64}).status_code == 403
        assert alice.post("/decide", data={**form, "csrf": bob_csrf}).status_code == 403
        assert alice.post("/undo", headers={"X-CSRF-Token": bob_csrf}).status_code == 403
        evil = alice.post(
            "/decide", data={**form, "csrf": alice_csrf}, headers={"Origin": "http://evil.example"}
        )
        assert evil.status_code == 403
        assert ReviewStore(store_path(out)).decisions() == []
        ok = alice.post("/decide", data={**form, "csrf": alice_csrf}, headers={"HX-Request": "true"})
        assert ok.status_code == 200 and "accept" in ok.text
        header = alice.post("/undo", headers={"X-CSRF-Token": alice_csrf, "HX-Request": "true"})
        assert header.status_code == 200
        assert [e.action for e in ReviewStore(store_path(out)).audit()] == ["accept", "undo"]


def test_two_reviewers_deciding_the_same_records_at_once_lose_nothing(review_run: tuple[Path, Path]) -> None:
    _, out = review_run
    with serve(out, ["alice", "bob"]) as server:
        ids = [item.id for item in server_queue(out)]
        assert len(ids) >= 15
        clients = {name: session(server, name) for name in ("alice", "bob")}

        def decide(job: tuple[str, str, int]) -> int:
            name, rid, i = job
            client, csrf = clients[name]
            action = "accept" if (i + (name == "bob")) % 2 else "reject"
            data = {"id": rid, "action": action, "value": f"{name} says no", "csrf": csrf}
            first = client.post("/decide", data=data, headers={"HX-Request": "true"}).status_code
            label = {"id": rid, "action": "relabel", "value": "code", "csrf": csrf}
            second = client.post("/decide", data=label, headers={"HX-Request": "true"}).status_code
            return first + second

        jobs = [(name, rid, i) for i, rid in enumerate(ids) for name in ("alice", "bob")]
        with ThreadPoolExecutor(max_workers=8) as pool:
            codes = list(pool.map(decide, jobs))
        assert codes == [200 + 200] * len(jobs)
        store = ReviewStore(store_path(out))
        states = {(d.record_id, d.reviewer): d.state for d in store.decisions()}
        assert len(states) == 2 * len(ids)
        for i, rid in enumerate(ids):
            for name in ("alice", "bob"):
                expected = "accept" if (i + (name == "bob")) % 2 else "reject"
                assert states[(rid, name)].status == expected
                assert states[(rid, name)].label == "code"
        audit = store.audit()
        assert len(audit) == 2 * len(jobs)
        assert sorted(e.seq for e in audit) == list(range(1, 2 * len(jobs) + 1))
        per_record = {(e.record_id, e.reviewer): [] for e in audit}  # type: dict[tuple[str, str], list[str]]
        for e in audit:
            per_record[(e.record_id, e.reviewer)].append(e.action)
        assert all(
            actions[0] in ("accept", "reject") and actions[1] == "relabel" for actions in per_record.values()
        )
        page = clients["alice"][0].get("/agreement").text
        assert "alice" in page and "bob" in page and "rules" in page


def server_queue(out: Path) -> list[object]:
    from curata.review.data import RunData

    return list(RunData(out).queue)


def queue_ids(client: httpx.Client, **params: str) -> list[str]:
    page = client.get("/", params=params).text
    return re.findall(r'<li class="row[^"]*" data-id="([^"]+)"', page)


def test_filters_search_and_bulk_action_on_a_cluster(review_run: tuple[Path, Path]) -> None:
    _, out = review_run
    with serve(out, ["alice"]) as server:
        client, csrf = session(server, "alice")
        everything = queue_ids(client)
        assert everything[:6] == [f"dup-{i}" for i in range(6)]  # rejected first, then flagged
        assert set(queue_ids(client, check="empty_response")) == {"empty-0", "empty-1", "empty-2"}
        assert queue_ids(client, q="HAIKU ABOUT TOPIC 2") == ["empty-2"]
        assert set(queue_ids(client, label="math")) == {"dup-0", "dup-3"}
        assert queue_ids(client, source="nowhere") == []
        assert set(queue_ids(client, cluster="dup:conflict-1a")) == {"conflict-1a", "conflict-1b"}
        response = client.post(
            "/bulk", data={"id": "conflict-1b", "action": "reject", "value": "ambiguous", "csrf": csrf}
        )
        assert response.status_code == 200
        store = ReviewStore(store_path(out))
        assert {d.record_id: d.state.status for d in store.decisions()} == {
            "conflict-1a": "reject",
            "conflict-1b": "reject",
        }
        item = client.get("/item", params={"id": "conflict-1a"}).text
        assert "ambiguous" in item and "Side by side with <code>conflict-1b</code>" in item


def test_overlapping_assignments_split_the_queue(review_run: tuple[Path, Path]) -> None:
    _, out = review_run
    with serve(out, ["alice", "bob", "carol"], overlap=2) as server:
        queues = {name: set(queue_ids(session(server, name)[0])) for name in ("alice", "bob", "carol")}
        everything = set(queue_ids(session(server, "alice")[0], scope="all"))
        for rid in everything:
            assert sum(rid in q for q in queues.values()) == 2


def test_judge_disagreement_raises_priority_and_judge_agreement_is_shown(
    review_run: tuple[Path, Path],
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    _, out = review_run
    table = pq.read_table(out / "signals.parquet")
    # An LLM judge on a 1-5 scale that likes dup-5 (which the rules dropped) and nothing else.
    judge = [5.0 if rid == "dup-5" else 1.0 for rid in table.column("id").to_pylist()]
    pq.write_table(table.append_column("judge_score", pa.array(judge, pa.float32())), out / "signals.parquet")
    with serve(out, ["alice"]) as server:
        client, csrf = session(server, "alice")
        assert queue_ids(client)[0] == "dup-5"
        for rid in ("dup-5", "dup-4", "clean-0"):
            client.post("/decide", data={"id": rid, "action": "accept", "csrf": csrf})
        page = client.get("/agreement").text
        rows = re.findall(r"<tr><td>alice</td><td>([^<]+)</td><td>(\d+)</td>", page)
        assert ("llm judge", "3") in rows and ("rules", "3") in rows
