"""The report section for the `judge` stage: how records were scored and how the scores spread."""

from __future__ import annotations

import plotly.graph_objects as go
from markupsafe import Markup

from curata.llm.calibrate import COLLAPSE_SHARE
from curata.report.build import PALETTE, ReportContext, Section, figure_html, section


@section
def judge_scores(ctx: ReportContext) -> Section | None:
    judged = ctx.summary.get("stage_summaries", {}).get("judge")
    if not judged or not judged.get("records"):
        return None
    counts = judged.get("histogram") or []
    scored = int(judged.get("scored", 0))
    llm = judged.get("llm", {})
    lines = [
        f"{scored:,} of {judged['records']:,} records scored by {llm.get('model', 'the judge')}; "
        f"{judged.get('unparseable', 0):,} unreadable replies and {judged.get('failed', 0):,} failed "
        f"requests (raw text in judge_raw), {judged.get('not_judged', 0):,} not judged "
        f"(budget); mean score {judged.get('mean_score')}.",
        f"Requests sent {llm.get('requests_sent', 0):,} (retries {llm.get('retries', 0):,}), cache hits "
        f"{llm.get('cache_hits', 0):,}, cost ${llm.get('cost', 0.0):.4f}.",
    ]
    body = Markup("").join(Markup("<p>{}</p>").format(line) for line in lines)
    if scored and counts and max(counts) / scored > COLLAPSE_SHARE:
        body += Markup(
            f"<p><strong>Score collapse:</strong> {max(counts) / scored:.0%} of the scores fall in one "
            "tenth of the range; the judge hardly separates records. Calibrate it with "
            "<code>curata judge calibrate</code>.</p>"
        )
    if counts:
        edges = [i / len(counts) for i in range(len(counts) + 1)]
        fig = go.Figure()
        fig.add_bar(
            x=[f"{edges[i]:.1f}–{edges[i + 1]:.1f}" for i in range(len(counts))],
            y=counts,
            marker_color=PALETTE["kept"],
            name="records",
        )
        fig.update_layout(xaxis_title="judge_score (0 worst, 1 best)", yaxis_title="records")
        body += figure_html(fig, height=300)
    return Section("judge", "LLM judge scores", body)
