"""`curata run --dry-run / --max-requests / --max-cost`: the budget of a recipe's LLM stages.

The caps tighten each LLM stage's `llm:` settings (a stage's own smaller cap stays), so they are
part of that stage's fingerprint: a rerun with a larger cap recomputes the stage, and its cache
answers what the earlier run already paid for. A dry run reads the inputs, asks each LLM stage
what it would send first, and estimates it against the run's cache; it writes nothing and sends
nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import yaml

from curata.llm.budget import Estimate
from curata.llm.cache import CompletionCache
from curata.llm.client import LLMClient
from curata.llm.config import LLMSettings
from curata.llm.request import ChatRequest
from curata.llm.session import CACHE_NAME
from curata.recipe import Recipe, StageSpec
from curata.records import Record
from curata.stages import STAGES
from curata.workdir import WORK


@runtime_checkable
class PlansRequests(Protocol):
    """A stage that talks to a model and can say what it would send."""

    def planned_requests(self, client: LLMClient, records: Sequence[Record]) -> list[ChatRequest]: ...


@dataclass(frozen=True)
class RunBudget:
    max_requests: int | None = None
    max_cost: float | None = None

    def __bool__(self) -> bool:
        return self.max_requests is not None or self.max_cost is not None


def is_llm_stage(name: str) -> bool:
    cls = STAGES.get(name)
    return cls is not None and "llm" in cls.Settings.model_fields


def tighter(current: Any, cap: float | None) -> Any:
    if cap is None:
        return current
    return cap if current is None else min(current, cap)


def capped_settings(settings: dict[str, Any], budget: RunBudget) -> dict[str, Any]:
    llm = dict(settings.get("llm") or {})
    llm["max_requests"] = tighter(llm.get("max_requests"), budget.max_requests)
    llm["max_cost"] = tighter(llm.get("max_cost"), budget.max_cost)
    return {**settings, "llm": llm}


def with_budget(recipe: Recipe, budget: RunBudget) -> Recipe:
    """The recipe with every LLM stage's caps at most the run's (each stage counts its own).

    The recipe text changes too: it is what the run directory records, so `curata select` and
    other reruns of this run keep the caps instead of sending what the caps held back."""
    if not budget:
        return recipe

    def capped(spec: StageSpec) -> StageSpec:
        if not is_llm_stage(spec.name):
            return spec
        return replace(spec, settings=capped_settings(spec.settings, budget))

    def capped_item(item: Any) -> Any:
        name, value = (item, None) if isinstance(item, str) else next(iter(item.items()))
        return {name: capped_settings(value or {}, budget)} if is_llm_stage(name) else item

    data = yaml.safe_load(recipe.text)
    data["stages"] = [capped_item(item) for item in data["stages"]]
    text = str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return replace(recipe, stages=tuple(capped(s) for s in recipe.stages), text=text)


@dataclass(frozen=True)
class StageEstimate:
    stage: str
    model: str
    estimate: Estimate
    settings: LLMSettings

    def describe(self) -> str:
        line = f"stage {self.stage}: {self.estimate.describe(self.model)}"
        cap = self.settings.max_requests
        if cap is not None and self.estimate.requests > cap:
            line += f"; capped: at most {cap:,} requests will be sent"
        if self.settings.max_cost is not None:
            line += f"; spending stops before ${self.settings.max_cost:g}"
        return line


def dry_run_cache(settings: LLMSettings, out: Path) -> CompletionCache:
    """The cache the run would use, read if it exists; never created by a dry run."""
    path = Path(settings.cache) if settings.cache else out / WORK / CACHE_NAME
    return CompletionCache(path if path.is_file() else None)


def estimate_stages(stages: Sequence[Any], records: Sequence[Record], out: Path) -> list[StageEstimate]:
    """What each LLM stage would send for `records` (first asks; repairs and retries come on top)."""
    found: list[StageEstimate] = []
    for stage in stages:
        if not isinstance(stage, PlansRequests):
            continue
        settings: LLMSettings = stage.settings.llm  # type: ignore[attr-defined]
        client = LLMClient(settings, dry_run_cache(settings, out))
        try:
            requests = stage.planned_requests(client, records)
            found.append(StageEstimate(stage.name, client.model, client.estimate(requests), settings))  # type: ignore[attr-defined]
        finally:
            client.cache.close()
    return found


def within_caps(e: StageEstimate) -> tuple[int, float | None]:
    """Requests and cost a stage would spend under its caps (cost pro rata to requests)."""
    requests, cost = e.estimate.requests, e.estimate.cost
    cap = e.settings.max_requests
    if cap is not None and requests > cap:
        cost = None if cost is None else cost * cap / requests
        requests = cap
    if cost is not None and e.settings.max_cost is not None:
        cost = min(cost, e.settings.max_cost)
    return requests, cost


def describe_total(estimates: Sequence[StageEstimate]) -> str:
    if not estimates:
        return "dry run: the recipe has no LLM stage; nothing would be sent"
    capped = [within_caps(e) for e in estimates]
    requests = sum(r for r, _ in capped)
    costs = [c for _, c in capped]
    cost = "unknown" if any(c is None for c in costs) else f"${sum(c or 0.0 for c in costs):.4f}"
    return (
        f"dry run total within the caps: {requests:,} requests, estimated cost {cost} before "
        "repairs and retries; nothing was sent and nothing written"
    )


def dry_run_lines(options: Any) -> list[str]:
    """The estimate of a `curata run` (RunOptions) as printable lines; validates like a run."""
    from curata.llm.io import load_records
    from curata.runner import plan_run

    _, plan, _ = plan_run(options)
    stages = [p.stage for p in plan.stages]
    records = [item.record for item in load_records(options.inputs, options.format).records]
    estimates = estimate_stages(stages, records, options.out)
    return [f"{len(records):,} records", *(e.describe() for e in estimates), describe_total(estimates)]


def budget_lines(summary: dict[str, Any]) -> list[str]:
    """One line per LLM stage of a finished run: what it sent and whether a cap stopped it."""
    lines = []
    for name, entry in summary.get("stage_summaries", {}).items():
        llm = entry.get("llm") if isinstance(entry, dict) else None
        if not llm:
            continue
        line = (
            f"stage {name}: {llm['requests_sent']:,} requests sent to {llm['model']} "
            f"({llm['cache_hits']:,} answered from the cache), cost ${llm['cost']:.4f}"
        )
        if llm.get("budget_exhausted"):
            line += (
                f"; stopped by {llm['budget_exhausted']}: the records left are unscored or unchanged; "
                "a rerun with a larger cap continues from the cache"
            )
        lines.append(line)
    return lines
