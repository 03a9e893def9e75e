"""The main job: inputs + recipe -> the run contract in OUT/. Validates everything it can before
touching OUT/, resumes finished work, and publishes outputs only after the nothing-lost check."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from curata import __version__, faults
from curata.engines.local import LocalEngine
from curata.engines.store import PartStore, StoreView
from curata.errors import RecipeError
from curata.formats import get_format
from curata.ingest import IngestOptions
from curata.inputs import InputFile, discover
from curata.outputs import ContractWriter, publish, verify_nothing_lost
from curata.pipeline import Plan, build_plan, digest
from curata.progress import Reporter
from curata.recipe import Recipe, load_recipe, parse_recipe
from curata.report.build import ReportContext, build_report
from curata.review.loop import RunReview, load_for_run, with_human_decisions
from curata.stages.decide import Decide
from curata.summary import NUMERIC_STATS, build_summary
from curata.workdir import RunDir, write_json


@dataclass
class RunOptions:
    inputs: list[str]
    out: Path
    recipe: str | None = None
    format: str | None = None
    export_format: str | None = None
    strict: bool = False
    workers: int | None = None
    batch_rows: int = 8192
    engine: str = "local"
    # A recipe given as text (e.g. an earlier run's recipe with a stage added) instead of a path.
    recipe_text: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def command(self, recipe: Recipe) -> dict[str, Any]:
        """What `curata select` and friends need to run this again: stored in the manifest."""
        return {
            "inputs": [str(Path(i).resolve()) if Path(i).exists() else i for i in self.inputs],
            "recipe_text": recipe.text,
            "recipe_source": recipe.source,
            "format": self.format,
            "export_format": self.export_format,
            "batch_rows": self.batch_rows,
        }


@dataclass
class RunResult:
    out: Path
    summary: dict[str, Any]
    resumed: bool


def input_fingerprint(inputs: list[InputFile], options: RunOptions) -> str:
    """Changes when an input file or an option that changes ingest does; not with the recipe."""
    files = []
    for source in inputs:
        for path in source.shards or (source.path,):
            stat = path.stat()
            files.append([str(path.resolve()), stat.st_size, stat.st_mtime_ns])
    return digest(
        {"curata": __version__, "files": files, "format": options.format, "batch_rows": options.batch_rows}
    )


def validate_options(options: RunOptions) -> None:
    for name in (options.format, options.export_format):
        if name is not None:
            try:
                get_format(name)
            except ValueError as exc:
                raise RecipeError(str(exc)) from None


def summary_columns(plan: Plan) -> list[str]:
    """The signal columns the summary and the report read (not messages or digests)."""
    wanted = {"id", "label", "format", "kept", "selected", "split", *NUMERIC_STATS, *plan.codes}
    wanted |= {c for c in plan.columns if c.endswith("_cluster") or c.endswith("_2d")}
    wanted |= {"map_x", "map_y"}  # the topic map
    return [c for c in plan.columns if c in wanted]


def make_engine(
    name: str,
    run_dir: RunDir,
    plan: Plan,
    reporter: Reporter,
    workers: int | None,
    ray_address: str | None = None,
) -> LocalEngine:
    if name == "local":
        return LocalEngine(run_dir, plan, reporter, workers)
    if name == "ray":
        from curata.engines.ray_engine import RayEngine

        return RayEngine(run_dir, plan, reporter, workers, address=ray_address)
    raise RecipeError(f"unknown engine '{name}' (local or ray)")


def plan_run(options: RunOptions, review: RunReview | None = None) -> tuple[list[InputFile], Plan, str]:
    """Everything checked before OUT is touched: inputs exist, formats known, recipe valid.
    Human review decisions stored in OUT (if any) go to `decide`; their edits change the ingest."""
    from curata.checks.plugins import raise_plugin_errors

    raise_plugin_errors()
    validate_options(options)
    inputs = discover(options.inputs)
    recipe = (
        parse_recipe(options.recipe_text, options.recipe or "<recipe>")
        if options.recipe_text is not None
        else load_recipe(options.recipe)
    )
    if options.extra.get("decontaminate_against"):
        from curata.checks.eval_sets import with_eval_sets

        recipe = with_eval_sets(recipe, options.extra["decontaminate_against"])
    if options.extra.get("llm_budget"):
        from curata.llm.run_budget import with_budget

        recipe = with_budget(recipe, options.extra["llm_budget"])
    fingerprint = input_fingerprint(inputs, options)
    if review is not None:
        recipe = with_human_decisions(recipe, review)
        if review.corrections:
            fingerprint = digest([fingerprint, review.corrections_json()])
    return inputs, build_plan(recipe, fingerprint), fingerprint


def run(options: RunOptions, reporter: Reporter) -> RunResult:
    started = time.perf_counter()
    faults.arm()
    review = load_for_run(options.out)
    inputs, plan, fingerprint = plan_run(options, review)
    run_dir = RunDir(options.out)
    resumed = run_dir.prepare(fingerprint, options.command(plan.recipe))
    if resumed:
        reporter.message(f"resuming the earlier run in {options.out}")
    engine = make_engine(
        options.engine, run_dir, plan, reporter, options.workers, options.extra.get("ray_address")
    )
    info = engine.ingest(
        inputs,
        IngestOptions(options.format, options.strict, options.batch_rows, corrections=review.corrections),
    )
    runs = engine.execute(info)
    store = PartStore(run_dir, info.parts, plan.producers)
    writer = ContractWriter(run_dir, plan, store, options.export_format)
    findings = [f for r in runs for f in r.findings]
    counts = writer.write(findings)
    verify_nothing_lost(run_dir, store)
    signals = pq.read_table(run_dir.staging / "signals.parquet", columns=summary_columns(plan))
    decide = next(p.stage for p in plan.stages if isinstance(p.stage, Decide))
    assert isinstance(decide, Decide)
    summary = build_summary(
        plan, info, runs, counts, signals, decide.policy(), time.perf_counter() - started, options.engine
    )
    view = StoreView(store)
    build_report(
        ReportContext(
            summary,
            signals,
            counts.examples,
            dict(counts.first_reason),
            turns=lambda rows: view.take(rows, ["turns"]).column("turns").to_pylist(),
        ),
        run_dir.staging / "report.html",
    )
    summary["total_seconds"] = round(time.perf_counter() - started, 3)
    write_json(run_dir.staging / "summary.json", summary)
    publish(run_dir)
    return RunResult(options.out, summary, resumed)
