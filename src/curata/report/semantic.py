"""Report section for topics and diversity: the 2-D map coloured by cluster (kept vs rejected),
coverage per cluster with its top terms and exemplars, and the diversity metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import plotly.graph_objects as go
from markupsafe import Markup

from curata.report.build import (
    SECTIONS,
    ReportContext,
    Section,
    column,
    duplicate_clusters,
    figure_html,
    kept_mask,
    render,
)

MAP_POINTS = 6_000
COLOURS = (
    "#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#db2777", "#65a30d", "#ea580c",
    "#4f46e5", "#0d9488", "#ca8a04", "#be123c", "#7c3aed", "#059669", "#c2410c", "#1d4ed8",
)  # fmt: skip


def shown_rows(n: int) -> np.ndarray:
    """At most MAP_POINTS rows, spread evenly, so big sets keep the page light."""
    if n <= MAP_POINTS:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, MAP_POINTS).astype(np.int64))


def topic_map(ctx: ReportContext, clusters: list[dict[str, Any]]) -> Markup:
    labels, xs, ys = column(ctx, "topic_cluster"), column(ctx, "map_x"), column(ctx, "map_y")
    assert labels is not None and xs is not None and ys is not None
    kept = kept_mask(ctx)
    ids = np.asarray(ctx.signals.column("id").to_pylist(), dtype=object)
    rows = shown_rows(len(labels))
    names = {c["cluster"]: f"{c['cluster']}: {', '.join(c['terms'][:3])}" for c in clusters}
    fig = go.Figure()
    for i, info in enumerate(clusters):
        members = rows[(labels[rows] == info["cluster"]) & kept[rows]]
        fig.add_scattergl(
            x=xs[members], y=ys[members], mode="markers", name=names[info["cluster"]],
            marker={"size": 5, "color": COLOURS[i % len(COLOURS)], "opacity": 0.75},
            text=ids[members], hovertemplate="%{text}<extra>" + names[info["cluster"]] + "</extra>",
        )  # fmt: skip
    rejected = rows[~kept[rows]]
    if len(rejected):
        fig.add_scattergl(
            x=xs[rejected], y=ys[rejected], mode="markers", name="rejected",
            marker={"size": 6, "color": "#94a3b8", "symbol": "x", "opacity": 0.8},
            text=ids[rejected], hovertemplate="%{text}<extra>rejected</extra>",
        )  # fmt: skip
    fig.update_layout(xaxis_title="first principal axis", yaxis_title="second principal axis")
    fig.update_layout(legend={"orientation": "v", "x": 1.02, "y": 1})
    return figure_html(fig, 480)


def coverage(ctx: ReportContext, clusters: list[dict[str, Any]]) -> list[dict[str, Any]]:
    labels = column(ctx, "topic_cluster")
    assert labels is not None
    kept = kept_mask(ctx)
    return [{**c, "kept": int(np.count_nonzero(kept[labels == c["cluster"]]))} for c in clusters]


def topics_section(ctx: ReportContext) -> Section | None:
    summaries = ctx.summary.get("stage_summaries", {})
    topics = summaries.get("topics")
    if not topics or column(ctx, "map_x") is None:
        return None
    clusters = topics.get("clusters", [])
    body = render(
        "topics.html.j2",
        topics=topics,
        semantic=summaries.get("semantic_dedup"),
        clusters=coverage(ctx, clusters),
        shown=min(MAP_POINTS, ctx.signals.num_rows),
        total=ctx.signals.num_rows,
    )
    return Section("topics", "Topics and diversity", body + topic_map(ctx, clusters))


# Shown just before the duplicate clusters, whatever order the modules load in.
SECTIONS.insert(
    SECTIONS.index(duplicate_clusters) if duplicate_clusters in SECTIONS else len(SECTIONS), topics_section
)
