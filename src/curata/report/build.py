"""report.html: one self-contained page (plotly.js inlined once, no network at view time).

The page is a list of sections; each section is built by a function of the run's summary, its
signal table and the examples kept while writing, so new capabilities add a section function.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import pyarrow as pa
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from curata import __version__

PALETTE = {"all": "#94a3b8", "kept": "#2563eb", "drop": "#dc2626", "flag": "#d97706", "ok": "#16a34a"}


TurnsFetcher = Callable[[np.ndarray], list[list[dict[str, str]]]]


@dataclass
class ReportContext:
    summary: dict[str, Any]
    signals: pa.Table
    examples: dict[str, list[dict[str, Any]]]
    first_reason: dict[str, int]
    # Reads the turns of the given rows, for sections that show record text.
    turns: TurnsFetcher | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Section:
    anchor: str
    title: str
    body: Markup


SectionBuilder = Callable[[ReportContext], Section | None]
SECTIONS: list[SectionBuilder] = []


def section(builder: SectionBuilder) -> SectionBuilder:
    SECTIONS.append(builder)
    return builder


def figure_html(fig: go.Figure, height: int = 340) -> Markup:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 50, "r": 20, "t": 30, "b": 40},
        font={"family": "Inter, system-ui, sans-serif", "size": 12},
        legend={"orientation": "h", "y": 1.12},
    )
    return Markup(
        fig.to_html(
            full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True}
        )
    )


def column(ctx: ReportContext, name: str) -> np.ndarray | None:
    if name not in ctx.signals.column_names:
        return None
    return np.asarray(ctx.signals.column(name).to_numpy(zero_copy_only=False))


def binned(values: np.ndarray, bins: dict[str, float]) -> dict[str, Any]:
    """A histogram trace's data counted here, so the page holds one bar per bin rather than every
    value (a few KB at any dataset size, instead of megabytes per million records)."""
    edges = np.arange(bins["start"], bins["end"] + bins["size"], bins["size"])
    finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    # Values outside the range are left out, as plotly does with `xbins`.
    counts, edges = np.histogram(finite, bins=edges)
    centers = (edges[:-1] + edges[1:]) / 2
    return {"x": centers, "y": counts, "histfunc": "sum"}


def kept_mask(ctx: ReportContext) -> np.ndarray:
    kept = column(ctx, "kept")
    return kept.astype(bool) if kept is not None else np.ones(ctx.signals.num_rows, dtype=bool)


def render(template: str, **values: Any) -> Markup:
    return Markup(ENV.get_template(template).render(**values))


@section
def overview(ctx: ReportContext) -> Section:
    totals = ctx.summary["totals"]
    return Section("overview", "Overview", render("overview.html.j2", s=ctx.summary, totals=totals))


@section
def funnel(ctx: ReportContext) -> Section:
    totals = ctx.summary["totals"]
    steps = [("input lines", totals["input"])]
    remaining = totals["input"]
    if totals["bad_lines"]:
        remaining -= totals["bad_lines"]
        steps.append((f"− bad lines ({totals['bad_lines']:,})", remaining))
    for code in ctx.summary["checks"]:
        removed = ctx.first_reason.get(code, 0)
        if removed:
            remaining -= removed
            steps.append((f"− {code} ({removed:,})", remaining))
    steps.append(("kept", totals["kept"]))
    fig = go.Figure(
        go.Funnel(
            y=[s[0] for s in steps],
            x=[s[1] for s in steps],
            textinfo="value+percent initial",
            marker={"color": [PALETTE["all"], *[PALETTE["drop"]] * (len(steps) - 2), PALETTE["kept"]]},
        )
    )
    note = Markup("<p class='note'>Each rejected record is counted once, under its first reason.</p>")
    return Section("funnel", "From input to kept", note + figure_html(fig, 80 + 40 * len(steps)))


@section
def checks(ctx: ReportContext) -> Section:
    rows = [
        {"code": code, **info, "examples": ctx.examples.get(code, [])}
        for code, info in ctx.summary["checks"].items()
    ]
    dataset_findings = ctx.summary.get("dataset_findings", [])
    return Section("checks", "Checks", render("checks.html.j2", rows=rows, dataset_findings=dataset_findings))


@section
def lengths(ctx: ReportContext) -> Section | None:
    kept = kept_mask(ctx)
    figures = []
    for name, title in (("response_tokens", "Response tokens"), ("prompt_tokens", "Prompt tokens")):
        values = column(ctx, name)
        if values is None or not len(values):
            continue
        upper = float(np.percentile(values, 99)) if len(values) else 1.0
        bins = {"start": 0, "end": max(upper, 1.0), "size": max(upper / 50, 1.0)}
        fig = go.Figure()
        fig.add_histogram(
            **binned(values, bins),
            name="before (all records)",
            marker_color=PALETTE["all"],
            xbins=bins,
            opacity=0.75,
        )
        fig.add_histogram(
            **binned(values[kept], bins),
            name="after (kept)",
            marker_color=PALETTE["kept"],
            xbins=bins,
            opacity=0.75,
        )
        fig.update_layout(
            barmode="overlay",
            xaxis_title=f"{title.lower()} (up to the 99th percentile)",
            yaxis_title="records",
        )
        figures.append(Markup(f"<h3>{html.escape(title)}</h3>") + figure_html(fig))
    if not figures:
        return None
    return Section("lengths", "Lengths before and after", Markup("").join(figures))


@section
def quality(ctx: ReportContext) -> Section | None:
    values = column(ctx, "quality")
    if values is None or not len(values):
        return None
    kept = kept_mask(ctx)
    bins = {"start": 0, "end": 1.0001, "size": 0.025}
    fig = go.Figure()
    fig.add_histogram(
        **binned(values, bins), name="all records", marker_color=PALETTE["all"], xbins=bins, opacity=0.75
    )
    fig.add_histogram(
        **binned(values[kept], bins), name="kept", marker_color=PALETTE["kept"], xbins=bins, opacity=0.75
    )
    fig.update_layout(barmode="overlay", xaxis_title="quality (0 worst, 1 best)", yaxis_title="records")
    return Section("quality", "Quality distribution", figure_html(fig))


@section
def class_balance(ctx: ReportContext) -> Section | None:
    labels = ctx.summary["stats"].get("labels")
    if not labels:
        return None
    names = list(labels["all"])
    fig = go.Figure()
    fig.add_bar(x=names, y=[labels["all"][n] for n in names], name="all records", marker_color=PALETTE["all"])
    fig.add_bar(
        x=names, y=[labels["kept"].get(n, 0) for n in names], name="kept", marker_color=PALETTE["kept"]
    )
    fig.update_layout(barmode="group", xaxis_title="label", yaxis_title="records")
    return Section("balance", "Class balance", figure_html(fig))


@section
def coverage(ctx: ReportContext) -> Section | None:
    from curata.report.coverage import coverage_section

    return coverage_section(ctx)


MAX_CLUSTERS = 200
DUP_SUFFIX = "_dup_cluster"


def snippet(turns: list[dict[str, str]], limit: int = 400) -> list[dict[str, str]]:
    return [
        {"role": t["role"], "content": t["content"][:limit] + ("…" if len(t["content"]) > limit else "")}
        for t in turns
    ]


@section
def duplicate_clusters(ctx: ReportContext) -> Section | None:
    names = [c for c in ctx.signals.column_names if c.endswith(DUP_SUFFIX)]
    if not names or ctx.turns is None:
        return None
    id_column = ctx.signals.column("id")

    def ids(row: int) -> str:
        return str(id_column[row].as_py())

    # Which rows each shown cluster needs first, then one read of them all: reading per cluster
    # read whole parts again and again (hundreds of part reads, most of the report's time).
    plans: list[tuple[str, int, int, list[tuple[int, int, list[int]]]]] = []
    for name in names:
        clusters = np.asarray(ctx.signals.column(name).to_numpy(zero_copy_only=False), dtype=np.int64)
        members = np.flatnonzero(clusters >= 0)
        if len(members) == 0:
            plans.append((name, 0, 0, []))
            continue
        keys, sizes = np.unique(clusters[members], return_counts=True)
        order = np.lexsort((keys, -sizes))[:MAX_CLUSTERS]
        shown_rows: list[tuple[int, int, list[int]]] = []
        for k in order:
            rows = members[clusters[members] == keys[k]]
            kept_row = int(keys[k]) if int(keys[k]) in set(rows.tolist()) else int(rows[0])
            others = [r for r in rows.tolist() if r != kept_row]
            shown_rows.append((int(sizes[k]), kept_row, others))
        plans.append((name, len(keys), len(members), shown_rows))
    wanted = sorted({r for *_, shown in plans for _, kept, others in shown for r in [kept, *others[:5]]})
    texts = dict(zip(wanted, ctx.turns(np.asarray(wanted, dtype=np.int64)), strict=True)) if wanted else {}
    kinds = [
        {
            "name": name.removesuffix(DUP_SUFFIX),
            "count": count,
            "records": records,
            "clusters": [
                {
                    "size": size,
                    "kept": {"id": ids(kept_row), "turns": snippet(texts[kept_row])},
                    "others": [{"id": ids(r), "turns": snippet(texts[r])} for r in others[:5]],
                    "more": max(len(others) - 5, 0),
                }
                for size, kept_row, others in shown
            ],
        }
        for name, count, records, shown in plans
    ]
    return Section(
        "duplicates", "Duplicate clusters", render("duplicates.html.j2", kinds=kinds, limit=MAX_CLUSTERS)
    )


@section
def selection_and_splits(ctx: ReportContext) -> Section | None:
    summaries = ctx.summary.get("stage_summaries", {})
    select, split = summaries.get("select"), summaries.get("split")
    if not select and not split:
        return None
    return Section(
        "selection", "Selection and splits", render("selection.html.j2", select=select, split=split)
    )


@section
def stages(ctx: ReportContext) -> Section:
    return Section("stages", "Stages and timings", render("stages.html.j2", stages=ctx.summary["stages"]))


ENV = Environment(
    loader=PackageLoader("curata.report", "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def build_report(ctx: ReportContext, path: Path) -> None:
    ctx.extra.setdefault("report_path", str(path))
    sections = [s for builder in SECTIONS if (s := builder(ctx)) is not None]
    page = ENV.get_template("report.html.j2").render(
        sections=sections,
        summary=ctx.summary,
        version=__version__,
        plotly_js=Markup(get_plotlyjs()),
    )
    path.write_text(page, encoding="utf-8")


# The LLM judge's section lives with the judge.
from curata.llm import report as _llm_report  # noqa: E402, F401

# Sections defined in their own modules register themselves on import.
from curata.report import semantic  # noqa: E402, F401
from curata.train import report_section  # noqa: E402, F401
