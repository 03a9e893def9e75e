"""The `plan`, `finetune` and `compare` commands; cli.py registers them with `register(app)`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()
Wrap = Callable[[Callable[..., Any]], Callable[..., Any]]


def print_plan(plan: dict[str, Any]) -> None:
    console.print(
        f"[bold]{plan['recommendation']}[/] for a {plan['model_size']} model on {plan['hardware']}; "
        f"enough data: [bold]{plan['enough_data']}[/] ({plan['stats']['records']:,} records, "
        f"task: {plan['task']['kind']})",
        highlight=False,
    )
    memory = Table(
        "option",
        "weights",
        "grads",
        "optimizer",
        "activations",
        "overhead",
        "total GB",
        "fits",
        "forgetting",
        title="memory estimate (GB)",
    )
    for m in ("full", "lora", "qlora"):
        e = plan["memory_gb"][m]
        memory.add_row(
            m,
            *(
                f"{e[k]:.2f}"
                for k in ("weights", "gradients", "optimizer", "activations", "overhead", "total")
            ),
            "yes" if plan["fits"][m] else "no",
            plan["forgetting_risk"][m],
        )
    console.print(memory)
    s = plan["settings"]
    console.print(
        f"settings: lr {s['learning_rate']:g}, epochs {s['epochs']:g}, batch {s['batch_size']} x "
        f"{s['grad_accum']} accumulation, max length {s['max_length']}"
        + (
            f", LoRA r={s['lora_r']} alpha={s['lora_alpha']} dropout={s['lora_dropout']} "
            f"targets={s['target_modules']}"
            if plan["recommendation"] != "full"
            else ""
        ),
        highlight=False,
    )
    rules = Table("rule", "verdict", "why", "source", title="rules applied")
    for r in plan["rules"]:
        rules.add_row(r["rule"], r["verdict"], r["detail"], r["source"])
    console.print(rules)


def print_compare(result: dict[str, Any]) -> None:
    b = result["budget"]
    table = Table(
        "data",
        "records",
        "data tokens",
        "passes",
        "train s",
        "held-out loss",
        "perplexity",
        title=f"same budget: {b['steps']} steps x {b['batch_size']} x {b['block_tokens']} tokens "
        f"(base model held-out loss {result['base_eval_loss']:.4f})",
    )
    for side, s in result["sides"].items():
        table.add_row(
            side,
            f"{s['records']:,}",
            f"{s['data_tokens']:,}",
            f"{s['epochs_over_data']}",
            f"{s['train']['seconds']:.1f}",
            f"{s['eval_loss']:.4f}",
            f"{s['eval_perplexity']:.2f}",
        )
    console.print(table)
    judge = result["judge"]
    if "curated_win_rate" in judge:
        console.print(
            f"judge {judge['judge']}: curated wins {judge['curated_wins']}, raw wins {judge['raw_wins']}, "
            f"ties {judge['ties']}; curated win rate {judge['curated_win_rate']:.0%}",
            highlight=False,
        )
    else:
        console.print(judge["judge"], highlight=False)


def register(app: typer.Typer, wrap: Wrap) -> None:
    """Add the training commands to `app`; `wrap` turns curata errors into one-line messages."""

    @app.command("plan")
    @wrap
    def plan_command(
        out: Annotated[Path, typer.Argument(help="a finished run directory")],
        model_size: Annotated[
            str, typer.Option(help="parameters of the model to fine-tune: 7B, 1.5B, 135M")
        ] = "7B",
        gpu: Annotated[str, typer.Option(help="GPU memory: 24GB, 2x80GB, or cpu")] = "24GB",
        as_json: Annotated[bool, typer.Option("--json", help="print the plan as JSON")] = False,
        save: Annotated[bool, typer.Option(help="write OUT/plan.json so the report shows this plan")] = True,
    ) -> None:
        """Advise LoRA, QLoRA or full fine-tuning for a run's data, and say whether there is enough."""
        from curata.train.attach import attach
        from curata.train.hardware import parse_gpu, parse_model_size
        from curata.train.plan import PLAN_FILE, make_plan
        from curata.train.stats import stats_from_run

        plan = make_plan(stats_from_run(out), parse_model_size(model_size), parse_gpu(gpu)).to_json()
        if save:
            attach(out, PLAN_FILE, plan)
        if as_json:
            print(json.dumps(plan, indent=2))
        else:
            print_plan(plan)
            if save:
                console.print(
                    f"saved {out / PLAN_FILE}; the report shows it when the run is next built",
                    highlight=False,
                )

    @app.command("finetune")
    @wrap
    def finetune_command(
        data: Annotated[
            list[str],
            typer.Argument(help="curated data: files in any format curata reads, or a run directory"),
        ],
        model: Annotated[str, typer.Option(help="local model directory (nothing is downloaded)")],
        out: Annotated[Path, typer.Option("-o", "--out", help="where the adapter or model is saved")] = Path(
            "finetune-out"
        ),
        method: Annotated[str, typer.Option(help="lora, qlora (GPU + bitsandbytes) or full")] = "lora",
        epochs: Annotated[
            float | None, typer.Option(help="passes over the data (default: from the plan)")
        ] = None,
        max_steps: Annotated[int | None, typer.Option(help="stop after this many steps")] = None,
        lr: Annotated[float | None, typer.Option(help="learning rate (default: from the plan)")] = None,
        batch_size: Annotated[
            int | None, typer.Option(help="examples per step (default: from the plan)")
        ] = None,
        max_length: Annotated[
            int | None, typer.Option(help="tokens per example (default: from the plan)")
        ] = None,
        lora_r: Annotated[int | None, typer.Option(help="LoRA rank (default: from the plan)")] = None,
        merge: Annotated[
            bool, typer.Option(help="also save the base model with the adapter merged in")
        ] = False,
        record_format: Annotated[str | None, typer.Option("--format", help="input record format")] = None,
        seed: Annotated[int, typer.Option(help="random seed")] = 0,
        quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    ) -> None:
        """Fine-tune a local model on curated data (TRL SFTTrainer; loss on assistant turns only)."""
        from curata.progress import make_reporter
        from curata.train.defaults import planned_settings

        settings, plan_note = planned_settings(data, model, method, record_format)
        overrides = {
            "epochs": epochs,
            "max_steps": max_steps,
            "learning_rate": lr,
            "batch_size": batch_size,
            "max_length": max_length,
            "lora_r": lora_r,
        }
        for name, value in overrides.items():
            if value is not None:
                setattr(settings, name, value)
        if lora_r is not None:
            settings.lora_alpha = 2 * lora_r
        settings.seed = seed
        from curata.train.data import read_training_data
        from curata.train.finetune import finetune, merge_adapter

        training = read_training_data(data, record_format)
        if not quiet:
            console.print(plan_note, highlight=False)
        with make_reporter(quiet) as reporter:
            result = finetune(training.conversations, model, out, settings, reporter)
        console.print(
            f"{result.method}: {result.steps} steps on {result.examples:,} examples "
            f"in {result.seconds:.1f}s, "
            f"final loss {result.losses[-1] if result.losses else float('nan'):.4f}; "
            f"trainable {result.trainable_parameters:,} of {result.total_parameters:,} parameters; "
            f"saved {result.output_dir}",
            highlight=False,
        )
        if result.fallback_chat_template:
            console.print(
                "the tokenizer has no chat template: used curata's ChatML fallback", highlight=False
            )
        if merge and result.method != "full":
            merged = merge_adapter(model, result.output_dir, out / "merged")
            console.print(f"merged model: {merged}", highlight=False)

    @app.command("compare")
    @wrap
    def compare_command(
        raw: Annotated[str, typer.Argument(help="the raw data (file or run directory)")],
        curated: Annotated[str, typer.Argument(help="the curated data (file or run directory)")],
        model: Annotated[str, typer.Option(help="local model directory")],
        eval_data: Annotated[
            str, typer.Option("--eval", help="clean held-out set (any format curata reads)")
        ],
        out: Annotated[Path, typer.Option("-o", "--out", help="where models and compare.json go")] = Path(
            "compare-out"
        ),
        method: Annotated[str, typer.Option(help="lora or full")] = "lora",
        steps: Annotated[
            int | None, typer.Option(help="steps for both (default: the plan's epochs over the curated data)")
        ] = None,
        batch_size: Annotated[int, typer.Option(help="blocks per step")] = 4,
        block: Annotated[int, typer.Option(help="tokens per packed block")] = 512,
        lr: Annotated[float | None, typer.Option(help="learning rate")] = None,
        judge: Annotated[str | None, typer.Option(help="pairwise judge: 'llm' or module:function")] = None,
        max_eval: Annotated[int | None, typer.Option(help="use at most this many eval examples")] = None,
        max_new_tokens: Annotated[int, typer.Option(help="answer length for the judge")] = 128,
        run: Annotated[
            Path | None, typer.Option(help="a run directory whose report should show the result")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the result as JSON")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
    ) -> None:
        """Fine-tune on RAW and on CURATED with the same steps and tokens; compare held-out loss and wins."""
        from curata.progress import make_reporter
        from curata.train.attach import attach
        from curata.train.compare import RESULT_FILE, compare
        from curata.train.settings import FinetuneSettings

        if method not in ("lora", "full"):
            from curata.errors import CurataError

            raise CurataError(f"--method must be lora or full for compare, not '{method}'")
        settings = FinetuneSettings(
            method="full" if method == "full" else "lora",
            max_steps=steps,
            batch_size=batch_size,
            max_length=block,
            learning_rate=lr,
        )
        with make_reporter(quiet) as reporter:
            result = compare(
                [raw], [curated], model, [eval_data], out, settings, judge, max_eval, max_new_tokens, reporter
            )
        if run is not None:
            attach(run, RESULT_FILE, result)
        if as_json:
            print(json.dumps(result, indent=2))
        else:
            print_compare(result)
