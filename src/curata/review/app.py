"""The review web app: a queue of flagged records, one record at a time with its findings,
signals and duplicate, and the actions that store a reviewer's decision. Pages are rendered on
the server (Jinja2, autoescaped); htmx swaps fragments; every response carries a strict CSP."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import xxhash
from fastapi import FastAPI, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.middleware.base import BaseHTTPMiddleware

from curata.review.agreement import agreements
from curata.review.auth import CSRF_FIELD, Guard, make_middleware
from curata.review.data import QueueItem, RunData, assigned, filter_queue
from curata.review.loop import store_path
from curata.review.render import markdown, pieces_html, word_diff
from curata.review.store import ACTIONS, STATUSES, ReviewStore, State

PAGE_SIZE = 200
BULK_ACTIONS = ("accept", "reject", "needs_rewrite", "clear")


@dataclass
class ReviewConfig:
    out: Path
    tokens: dict[str, str]
    overlap: int | None = None


def row_key(rid: str) -> str:
    """A stable HTML id for a record (record ids may hold any character)."""
    return xxhash.xxh3_64_hexdigest(rid.encode("utf-8", "surrogatepass"))


def make_env() -> Environment:
    env = Environment(
        loader=PackageLoader("curata.review", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = markdown
    env.filters["row_key"] = row_key
    return env


class ReviewApp:
    """State shared by the routes: the run's data, the store, the reviewers."""

    def __init__(self, config: ReviewConfig) -> None:
        self.config = config
        self.data = RunData(config.out)
        self.store = ReviewStore(store_path(config.out))
        self.reviewers = sorted(config.tokens)
        self.overlap = config.overlap or len(self.reviewers)
        self.env = make_env()
        self.by_id = {item.id: item for item in self.data.queue}
        self.groups: dict[str, list[str]] = defaultdict(list)
        for item in self.data.queue:
            self.groups[item.group].append(item.id)

    def queue_for(self, reviewer: str) -> list[QueueItem]:
        return [i for i in self.data.queue if assigned(i.id, reviewer, self.reviewers, self.overlap)]

    def render(self, name: str, request: Request, **context: Any) -> str:
        return self.env.get_template(name).render(
            reviewer=request.state.reviewer,
            csrf=request.state.csrf,
            csrf_field=CSRF_FIELD,
            reviewers=self.reviewers,
            **context,
        )

    def states(self, rid: str) -> dict[str, State]:
        return {d.reviewer: d.state for d in self.store.decisions(rid)}

    def detail(self, request: Request, rid: str, oob: bool = False, advance: bool = False) -> str:
        record = self.data.load(rid)
        if record is None:
            return self.render("missing.html.j2", request, rid=rid)
        mine = self.store.state(rid, request.state.reviewer)
        related = self.data.related(rid)
        duplicate = None
        if related:
            other = self.data.load(related[0])
            if other is not None:
                left, right = word_diff(other.conversation_text(), record.conversation_text())
                duplicate = {
                    "record": other,
                    "kept": bool(self.data.signals.get(other.id, {}).get("kept", False)),
                    "left": pieces_html(left),
                    "right": pieces_html(right),
                }
        item = self.by_id.get(rid)
        group = self.groups.get(item.group, []) if item else []
        return self.render(
            "item.html.j2",
            request,
            record=record,
            item=item,
            mine=mine,
            others={k: v for k, v in self.states(rid).items() if k != request.state.reviewer},
            findings=self.data.findings.get(rid, []),
            signals=self.data.signal_rows(rid),
            duplicate=duplicate,
            related=related,
            labels=self.data.labels[:9],
            group=group,
            oob=oob,
            advance=advance,
            bulk_actions=BULK_ACTIONS,
        )

    def agreement_rows(self) -> list[Any]:
        ratings: dict[str, dict[str, str]] = defaultdict(dict)
        for d in self.store.decisions():
            if d.state.status is not None:
                ratings[d.reviewer][d.record_id] = "keep" if d.state.status == "accept" else "drop"
            elif d.state.edit is not None or d.state.label is not None:
                ratings[d.reviewer][d.record_id] = "keep"
        rules: dict[str, str] = {}
        judge: dict[str, str] = {}
        judge_max = self.data.judge_max
        for rid, row in self.data.signals.items():
            by = str(row.get("decided_by") or "")
            if not by.startswith("human:"):
                rules[rid] = "keep" if row.get("kept", True) else "drop"
            score = row.get("judge_score")
            if isinstance(score, (int, float)):
                scaled = score / judge_max if judge_max > 1 else score
                judge[rid] = "keep" if scaled >= 0.5 else "drop"
        automatic = {"rules": rules}
        if judge:
            automatic["llm judge"] = judge
        return agreements(ratings, automatic)


def create_app(config: ReviewConfig) -> FastAPI:
    review = ReviewApp(config)
    guard = Guard(config.tokens, scope=str(config.out.resolve()))
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.review = review
    app.state.guard = guard
    app.add_middleware(BaseHTTPMiddleware, dispatch=make_middleware(guard))
    static = Path(str(resources.files("curata.review").joinpath("static")))
    app.mount("/static", StaticFiles(directory=static), name="static")

    @app.get("/", response_class=HTMLResponse)
    def index(
        request: Request,
        check: str = "",
        cluster: str = "",
        label: str = "",
        source: str = "",
        q: str = "",
        scope: str = "mine",
        id: str = "",
    ) -> str:
        pool = review.queue_for(request.state.reviewer) if scope == "mine" else review.data.queue
        items = filter_queue(pool, check=check, cluster=cluster, label=label, source=source, q=q)
        decided = {d.record_id: d.state for d in review.store.decisions(reviewer=request.state.reviewer)}
        current = id if id in {i.id for i in items} else (items[0].id if items else "")
        return review.render(
            "index.html.j2",
            request,
            items=items[:PAGE_SIZE],
            total=len(items),
            decided=decided,
            current=current,
            detail=review.detail(request, current) if current else "",
            filters={
                "check": check,
                "cluster": cluster,
                "label": label,
                "source": source,
                "q": q,
                "scope": scope,
            },
            checks=review.data.checks(),
            clusters=review.data.clusters(),
            labels=review.data.labels,
            sources=review.data.sources,
        )

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return Response(status_code=204)

    @app.get("/item", response_class=HTMLResponse)
    def item(request: Request, id: str = Query(...)) -> str:
        return review.detail(request, id)

    def after_change(request: Request, rid: str, advance: bool = False) -> Response:
        if request.headers.get("hx-request"):
            return HTMLResponse(review.detail(request, rid, oob=True, advance=advance))
        return RedirectResponse(f"/?{urlencode({'id': rid})}", status_code=303)

    @app.post("/decide")
    def decide(
        request: Request, id: str = Form(...), action: str = Form(...), value: str | None = Form(None)
    ) -> Response:
        if action not in ACTIONS or review.data.load(id) is None:
            return HTMLResponse("unknown action or record", status_code=400)
        if action == "relabel" and value not in review.data.labels and not (value or "").strip():
            return HTMLResponse("a label is required", status_code=400)
        review.store.act(id, request.state.reviewer, action, value)
        return after_change(request, id, advance=action in STATUSES)

    @app.post("/undo")
    def undo(request: Request) -> Response:
        entry = review.store.undo(request.state.reviewer)
        if entry is None:
            return HTMLResponse("nothing to undo", status_code=409)
        return after_change(request, entry.record_id)

    @app.post("/bulk")
    def bulk(
        request: Request, id: str = Form(...), action: str = Form(...), value: str | None = Form(None)
    ) -> Response:
        item = review.by_id.get(id)
        if item is None or action not in BULK_ACTIONS:
            return HTMLResponse("unknown record or action", status_code=400)
        for other in review.groups[item.group]:
            review.store.act(other, request.state.reviewer, action, value)
        response = after_change(request, id)
        response.headers["HX-Refresh"] = "true"
        return response

    @app.get("/agreement", response_class=HTMLResponse)
    def agreement(request: Request) -> str:
        counts: dict[str, int] = defaultdict(int)
        for d in review.store.decisions():
            counts[d.reviewer] += 1
        return review.render("agreement.html.j2", request, rows=review.agreement_rows(), counts=counts)

    @app.get("/audit", response_class=HTMLResponse)
    def audit(request: Request) -> str:
        entries = review.store.audit()
        return review.render("audit.html.j2", request, entries=entries[-300:][::-1], total=len(entries))

    return app
