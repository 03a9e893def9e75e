"""The `curata` command: parse arguments, call the library, print. No logic lives here."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from curata.errors import CurataError
from curata.formats import FORMAT_NAMES

app = typer.Typer(
    name="curata",
    help="Curate LLM fine-tuning datasets: clean, dedup, balance, check, and show why.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
recipe_app = typer.Typer(help="Show and validate recipes.", no_args_is_help=True)
app.add_typer(recipe_app, name="recipe")
from curata.review.cli import review_app  # noqa: E402 - the review commands live in their own module

app.add_typer(review_app, name="review")

# LLM commands (judge, generate, rewrite) live in their own module.
from curata.llm.cli import register as register_llm_commands  # noqa: E402

register_llm_commands(app)

console = Console()
F = TypeVar("F", bound=Callable[..., Any])

FormatOption = Annotated[
    str | None,
    typer.Option("--format", help=f"input record format ({', '.join(FORMAT_NAMES)}); detected if omitted"),
]


def fail(message: str, code: int) -> None:
    print(f"curata: error: {message}", file=sys.stderr, flush=True)
    raise typer.Exit(code)


def friendly_errors(func: F) -> F:
    """Errors a user can act on print as one line, without a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CurataError as exc:
            fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            fail("interrupted; run the same command again to resume", 130)
        return None

    return wrapper  # type: ignore[return-value]


@app.command()
@friendly_errors
def run(
    inputs: Annotated[list[str], typer.Argument(help="input files, globs or dataset directories")],
    out: Annotated[Path, typer.Option("-o", "--out", help="output directory (the run contract)")],
    recipe: Annotated[str | None, typer.Option(help="recipe YAML (default: the built-in recipe)")] = None,
    format: FormatOption = None,
    export_format: Annotated[
        str | None, typer.Option(help=f"write curated records in this format ({', '.join(FORMAT_NAMES)})")
    ] = None,
    strict: Annotated[bool, typer.Option(help="stop at the first bad line (exit code 2)")] = False,
    workers: Annotated[int | None, typer.Option(help="worker processes (default: all cores)")] = None,
    batch_rows: Annotated[int, typer.Option(help="records per batch")] = 8192,
    engine: Annotated[str, typer.Option(help="local (default) or ray (needs curata[ray])")] = "local",
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address for --engine ray (default: $RAY_ADDRESS, else local)"),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress output")] = False,
    decontaminate_against: Annotated[
        list[str] | None,
        typer.Option(help="eval set(s) to check prompts against (any input format); repeat for several"),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="estimate the LLM stages' requests, tokens, cost; send nothing")
    ] = False,
    max_requests: Annotated[
        int | None, typer.Option(help="cap each LLM stage's requests (tightens the recipe's llm caps)")
    ] = None,
    max_cost: Annotated[
        float | None, typer.Option(help="cap each LLM stage's estimated spend in USD (tightens the recipe)")
    ] = None,
) -> None:
    """Curate INPUTS into OUT: curated.jsonl, rejected.jsonl, findings.jsonl, signals.parquet, report.html."""
    from curata.progress import make_reporter
    from curata.runner import RunOptions
    from curata.runner import run as run_job

    options = RunOptions(
        list(inputs), out, recipe, format, export_format, strict, workers, batch_rows, engine=engine
    )
    if ray_address:
        options.extra["ray_address"] = ray_address
    if decontaminate_against:
        options.extra["decontaminate_against"] = list(decontaminate_against)
    if max_requests is not None or max_cost is not None or dry_run:
        from curata.llm.run_budget import RunBudget, dry_run_lines

        options.extra["llm_budget"] = RunBudget(max_requests, max_cost)
        if dry_run:
            console.print("\n".join(dry_run_lines(options)), highlight=False)
            return
    with make_reporter(quiet) as reporter:
        result = run_job(options, reporter)
    if not quiet:
        print_result(result.summary, out)
        from curata.llm.run_budget import budget_lines

        for line in budget_lines(result.summary):
            console.print(line, highlight=False)


def print_result(summary: dict[str, Any], out: Path) -> None:
    totals = summary["totals"]
    console.print(
        f"[bold]{totals['records']:,}[/] records: [blue]{totals['kept']:,} kept[/], "
        f"[red]{totals['rejected']:,} rejected[/], {totals['bad_lines']:,} bad lines "
        f"in {summary['total_seconds']:.1f}s"
    )
    reasons = summary.get("rejected_by_reason", {})
    if reasons:
        console.print(
            "rejected by reason: " + ", ".join(f"{k} {v:,}" for k, v in reasons.items()), highlight=False
        )
    console.print(f"report: {out / 'report.html'}", highlight=False)


@app.command()
@friendly_errors
def inspect(
    inputs: Annotated[list[str], typer.Argument(help="input files, globs or dataset directories")],
    format: FormatOption = None,
    samples: Annotated[int, typer.Option(help="sample records to show")] = 3,
    limit: Annotated[int | None, typer.Option(help="read at most this many records per input")] = None,
) -> None:
    """Print each input's detected format, counts, field statistics and sample records."""
    from curata.inspect import inspect_inputs, print_inspection

    print_inspection(inspect_inputs(list(inputs), format, samples, limit), console)


@app.command()
@friendly_errors
def demo(
    out: Annotated[Path, typer.Option("-o", "--out", help="output directory")] = Path("demo-out"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    recipe: Annotated[
        str, typer.Option(help="a recipe file or built-in name; `semantic` adds embeddings and topics")
    ] = "semantic",
) -> None:
    """Run the built-in `semantic` recipe (the default one plus embeddings, semantic duplicates and
    topic clusters) on the bundled sample and print where the report is."""
    from curata.progress import make_reporter
    from curata.runner import RunOptions
    from curata.runner import run as run_job

    data = resources.files("curata").joinpath("data", "demo")
    inputs = sorted(
        str(p) for p in Path(str(data)).iterdir() if not p.name.startswith(("README", "ATTRIBUTION"))
    )
    console.print(
        f"curating the bundled sample ({len(inputs)} files from public datasets, see {data}/README.md)"
    )
    with make_reporter(quiet) as reporter:
        result = run_job(RunOptions(inputs, out, recipe), reporter)
    print_result(result.summary, out)


@app.command()
@friendly_errors
def export(
    out: Annotated[Path, typer.Argument(help="a finished run directory")],
    dest: Annotated[Path, typer.Option("--dest", "-d", help="where to write the export")],
    to: Annotated[
        str, typer.Option("--to", help="jsonl, parquet or hf (a Hugging Face dataset directory)")
    ] = "jsonl",
    format: Annotated[
        str | None,
        typer.Option(
            "--format", help=f"record format ({', '.join(FORMAT_NAMES)}); default: each record's own"
        ),
    ] = None,
    splits: Annotated[
        bool, typer.Option("--splits", help="one file (or dataset split) per train/validation/test")
    ] = False,
    chat_template_from: Annotated[
        str | None, typer.Option(help="render each example with this local tokenizer's chat template")
    ] = None,
) -> None:
    """Export a run's kept records (optionally per split) to JSONL, Parquet or a Hugging Face dataset."""
    from curata.exports import export_run

    if to not in ("jsonl", "parquet", "hf"):
        raise CurataError(f"--to must be jsonl, parquet or hf, not '{to}'")
    result = export_run(out, dest, to, format, splits, chat_template_from)  # type: ignore[arg-type]
    counts = ", ".join(f"{name} {n:,}" for name, n in result.counts.items())
    console.print(f"exported {counts} records to {dest}", highlight=False)
    if result.tokens:
        t = result.tokens
        console.print(
            f"tokens per example: mean {t['mean']:,}, p50 {t['p50']:,.0f}, p95 {t['p95']:,.0f}, "
            f"max {t['max']:,}; total {t['total']:,}",
            highlight=False,
        )


@app.command("select")
@friendly_errors
def select_command(
    out: Annotated[Path, typer.Argument(help="a run directory (from `curata run`)")],
    n: Annotated[int | None, typer.Option("--n", help="number of records to select")] = None,
    fraction: Annotated[float | None, typer.Option(help="fraction of the kept records to select")] = None,
    method: Annotated[str, typer.Option(help="deita, kcenter, quota or top")] = "deita",
    by: Annotated[str | None, typer.Option(help="quota groups: label or cluster")] = None,
    balance: Annotated[bool, typer.Option(help="equal quotas per group instead of proportional")] = False,
    cap: Annotated[int | None, typer.Option(help="at most this many records per group")] = None,
    threshold: Annotated[
        float, typer.Option(help="DEITA: skip records this similar to one already chosen")
    ] = 0.9,
    diversity: Annotated[
        float, typer.Option(help="DEITA: weight of diversity against quality; 0 = score order alone")
    ] = 1.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Choose N records (or a fraction) from a finished run, maximising quality and diversity."""
    from curata.progress import make_reporter
    from curata.select.command import select_run

    settings = {
        "n": n,
        "fraction": fraction,
        "method": method,
        "by": by,
        "balance": balance,
        "cap": cap,
        "threshold": threshold,
        "diversity": diversity,
    }
    with make_reporter(quiet) as reporter:
        result = select_run(out, {k: v for k, v in settings.items() if v is not None}, reporter)
    picked = result.summary["stage_summaries"]["select"]
    console.print(
        f"selected {picked['selected']:,} of {picked['eligible']:,} kept records with '{picked['method']}': "
        f"mean quality {picked['mean_score_selected']:.3f} "
        f"(a random {picked['budget']:,}: {picked['mean_score_random']:.3f})",
        highlight=False,
    )
    if picked.get("diversity_selected") is not None:
        ours, chance = picked["diversity_selected"], picked["diversity_random"]
        console.print(
            f"diversity: mean pairwise cosine distance {ours['mean_pairwise_cosine_distance']:.4f} "
            f"(random: {chance['mean_pairwise_cosine_distance']:.4f}), "
            f"Vendi {ours['vendi']:.2f} (random: {chance['vendi']:.2f})",
            highlight=False,
        )
    console.print(f"curated.jsonl now holds the selection; report: {out / 'report.html'}", highlight=False)


@recipe_app.command("show")
@friendly_errors
def recipe_show(name: Annotated[str, typer.Argument(help="built-in recipe name")] = "default") -> None:
    """Print a built-in recipe (the default one unless named)."""
    from curata.recipe import builtin_recipe_text

    try:
        print(builtin_recipe_text(name), end="")
    except FileNotFoundError:
        raise CurataError(f"no built-in recipe named '{name}'") from None


@recipe_app.command("validate")
@friendly_errors
def recipe_validate(path: Annotated[str, typer.Argument(help="recipe YAML file")]) -> None:
    """Check a recipe without running it."""
    from curata.pipeline import build_plan
    from curata.recipe import load_recipe

    plan = build_plan(load_recipe(path), "validate")
    console.print(
        f"{path}: valid, {len(plan.stages)} stages: " + ", ".join(p.name for p in plan.stages),
        highlight=False,
    )


@app.command("checks")
def list_checks() -> None:
    """List every check code with its default action and threshold."""
    from rich.table import Table

    import curata.stages  # noqa: F401 - registers the dataset-level codes
    from curata.checks import CHECKS

    table = Table("code", "default action", "threshold", "kind", "meaning")
    for code, info in sorted(CHECKS.items()):
        kind = "dataset" if info.dataset_level else "record"
        table.add_row(code, info.default_action, f"{info.default_threshold:g}", kind, info.description)
    console.print(table)


# Training advice and fine-tuning: `plan`, `finetune`, `compare` (bodies in curata.train.cli).
from curata.train.cli import register as register_train  # noqa: E402

register_train(app, friendly_errors)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
