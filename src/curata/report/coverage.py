"""The report's coverage section: task types, answer formats and the label-error model, from the
summaries of the `coverage`, `formats` and `labels` stages."""

from __future__ import annotations

import html
from typing import Any

import plotly.graph_objects as go
from markupsafe import Markup

from curata.report.build import PALETTE, ReportContext, Section, figure_html


def bar(title: str, counts: dict[str, int], axis: str) -> Markup:
    fig = go.Figure()
    names = list(counts)
    fig.add_bar(x=names, y=[counts[n] for n in names], marker_color=PALETTE["all"])
    fig.update_layout(xaxis_title=axis, yaxis_title="records", showlegend=False)
    return Markup(f"<h3>{html.escape(title)}</h3>") + figure_html(fig, height=300)


def label_model_note(labels: dict[str, Any]) -> Markup:
    model = labels.get("label_error")
    if not model:
        return Markup("")
    text = (
        f"Label errors: a cross-validated classifier ({model['features']}) over {model['classified']:,} "
        f"labelled records reaches {model['cv_accuracy']:.1%} accuracy (always guessing the largest class: "
        f"{model['majority_baseline']:.1%}); "
    )
    text += (
        f"not used: {model['skipped']}."
        if "skipped" in model
        else f"cleanlab flags {model['issues']:,} labels as probably wrong."
    )
    return Markup(f"<p class='note'>{html.escape(text)}</p>")


def coverage_section(ctx: ReportContext) -> Section | None:
    summaries = ctx.summary.get("stage_summaries", {})
    parts: list[Markup] = []
    task_types = summaries.get("coverage", {}).get("task_types")
    if task_types:
        parts.append(bar("Task types (from the instructions' leading verbs)", task_types, "task type"))
    formats = summaries.get("formats", {}).get("formats")
    if formats:
        parts.append(bar("Answer formats", formats, "format"))
    binary = summaries.get("labels", {}).get("binary_answers")
    if binary:
        parts.append(bar("Answers of binary tasks", binary, "answer"))
    parts.append(label_model_note(summaries.get("labels", {})))
    if not task_types and not formats:
        return None
    return Section("coverage", "Coverage and consistency", Markup("").join(parts))
