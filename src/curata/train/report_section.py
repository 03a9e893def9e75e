"""Report sections: fine-tuning advice (always) and raw-vs-curated results (after `curata compare --run`).

The advice is the plan for the hardware in OUT/plan.json when `curata plan` wrote one for this run,
else for a typical setup (a 7B model on one 24 GB GPU), computed from the run's summary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from curata.report.build import ReportContext, Section, section
from curata.train.attach import attached, run_dir_of
from curata.train.compare import RESULT_FILE as COMPARE_FILE
from curata.train.plan import DEFAULT_HARDWARE, DEFAULT_MODEL_SIZE, PLAN_FILE, make_plan
from curata.train.stats import stats_from_summary

ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))

PLAN_TEMPLATE = ENV.from_string(
    """
<p>{{ note }}</p>
<div class="cards">
  <div class="card"><div class="k">recommendation</div><div class="v">{{ plan.recommendation }}</div></div>
  <div class="card"><div class="k">enough data</div><div class="v">{{ plan.enough_data }}</div></div>
  <div class="card"><div class="k">task (proxy)</div><div class="v">{{ plan.task.kind }}</div></div>
  <div class="card"><div class="k">model · hardware</div>
    <div class="v">{{ plan.model_size }} · {{ plan.hardware }}</div>
    </div>
</div>
<h3>Memory estimate (GB, micro-batch 1, max length {{ plan.settings.max_length }})</h3>
<table>
<tr><th>option</th><th class="num">weights</th><th class="num">gradients</th><th class="num">optimizer</th>
<th class="num">activations</th><th class="num">overhead</th><th class="num">total</th>
<th>fits</th><th>forgetting risk</th></tr>
{% for m in ("full", "lora", "qlora") %}{% set e = plan.memory_gb[m] %}
<tr><td>{{ m }}</td><td class="num">{{ e.weights }}</td><td class="num">{{ e.gradients }}</td>

<td class="num">{{ e.optimizer }}</td>
<td class="num">{{ e.activations }}</td>
<td class="num">{{ e.overhead }}</td>

<td class="num"><b>{{ e.total }}</b></td>
<td>{{ "yes" if plan.fits[m] else "no" }}</td>
<td>{{ plan.forgetting_risk[m] }}</td></tr>
{% endfor %}
</table>
<h3>Settings</h3>
{% set st = plan.settings %}
<p>{{ plan.recommendation }}: learning rate {{ st.learning_rate }}, {{ st.epochs }} epochs,
batch {{ st.batch_size }} x {{ st.grad_accum }} accumulation, max length {{ st.max_length }}
{%- if plan.recommendation != "full" %}, LoRA r={{ st.lora_r }}, alpha={{ st.lora_alpha }},
dropout {{ st.lora_dropout }}, targets {{ st.target_modules }}{% endif %}.</p>
<h3>Rules applied</h3>
<table>
<tr><th>rule</th><th>verdict</th><th>why</th><th>source</th></tr>
{% for r in plan.rules %}<tr><td><code>{{ r.rule }}</code></td>
<td>{{ r.verdict }}</td>
<td>{{ r.detail }}</td>
<td class="note">{{ r.source }}</td></tr>
{% endfor %}
</table>
"""
)

COMPARE_TEMPLATE = ENV.from_string(
    """
<p>Both fine-tuned from <code>{{ c.model }}</code> with {{ c.settings.method }} for the same
{{ c.budget.steps }} steps of {{ c.budget.batch_size }} x {{ c.budget.block_tokens }} tokens
({{ "{:,}".format(c.budget.tokens_per_side) }} tokens each), then scored on {{ c.eval.examples }} held-out
examples ({{ "{:,}".format(c.eval.assistant_tokens) }} answer tokens). Lower loss is better; the base model
scores {{ "%.4f"|format(c.base_eval_loss) }}.</p>
<table>
<tr><th>data</th><th class="num">records</th><th class="num">tokens</th><th class="num">passes over data</th>
<th class="num">train time (s)</th><th class="num">final train loss</th><th class="num">held-out loss</th>
<th class="num">perplexity</th></tr>
{% for side, s in c.sides.items() %}
<tr><td>{{ side }}</td>
<td class="num">{{ "{:,}".format(s.records) }}</td>
<td class="num">{{ "{:,}".format(s.data_tokens) }}</td>
<td class="num">{{ s.epochs_over_data }}</td><td class="num">{{ "%.1f"|format(s.train.seconds) }}</td>
<td class="num">{{ "%.4f"|format(s.train.losses[-1]) if s.train.losses else "—" }}</td>

<td class="num"><b>{{ "%.4f"|format(s.eval_loss) }}</b></td>
<td class="num">{{ "%.2f"|format(s.eval_perplexity) }}</td></tr>
{% endfor %}
</table>
{% if c.judge.curated_win_rate is defined %}
<p>Judge ({{ c.judge.judge }}): curated wins {{ c.judge.curated_wins }}, raw wins {{ c.judge.raw_wins }},
ties {{ c.judge.ties }}; curated win rate <b>{{ "%.0f%%"|format(100 * c.judge.curated_win_rate) }}</b>
(each pair judged in both orders; disagreement counts as a tie).</p>
{% else %}<p class="note">{{ c.judge.judge }}</p>{% endif %}
"""
)


def report_dir(ctx: ReportContext) -> Path | None:
    path = ctx.extra.get("report_path")
    return run_dir_of(Path(path)) if path else None


def plan_view(ctx: ReportContext) -> tuple[dict[str, Any], str]:
    out = report_dir(ctx)
    saved = attached(out, PLAN_FILE) if out is not None else None
    if saved is not None:
        return saved, "The plan made by curata plan for this run and this hardware."
    plan = make_plan(stats_from_summary(ctx.summary), DEFAULT_MODEL_SIZE, DEFAULT_HARDWARE)
    note = (
        "For a typical setup: a 7B model on one 24 GB GPU. For yours: "
        "curata plan OUT --model-size 8B --gpu 80GB (or --gpu cpu)."
    )
    return plan.to_json(), note


@section
def finetune_advice(ctx: ReportContext) -> Section | None:
    if not ctx.summary.get("totals", {}).get("kept"):
        return None
    plan, note = plan_view(ctx)
    return Section("advice", "Fine-tuning advice", Markup(PLAN_TEMPLATE.render(plan=plan, note=note)))


@section
def raw_vs_curated(ctx: ReportContext) -> Section | None:
    out = report_dir(ctx)
    result = attached(out, COMPARE_FILE) if out is not None else None
    if result is None:
        return None
    return Section("compare", "Raw vs curated fine-tune", Markup(COMPARE_TEMPLATE.render(c=result)))
