"""`curata compare`: fine-tune on raw and on curated data with the same compute, then measure both.

Same compute means the same optimiser steps over the same number of tokens: both sides are packed
into blocks of exactly `max_length` tokens and trained for the same number of steps with the same
batch size, seed, learning rate and schedule, so each reads steps × batch × max_length tokens (a
side whose data is smaller than that cycles over it again). Both are scored on the same held-out
set: loss per assistant token, and, when a judge is configured, pairwise wins on its prompts.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from curata.progress import Reporter, SilentReporter
from curata.train.chat import ensure_chat_template, tokenize_conversation
from curata.train.data import Conversation, TrainingData, read_training_data
from curata.train.evaluate import context_length, eval_loss, generate_answers, on_best_device
from curata.train.finetune import finetune, load_trained
from curata.train.judge import load_judge, win_rate
from curata.train.models import load_model, load_tokenizer
from curata.train.plan import planned_epochs
from curata.train.settings import FinetuneSettings
from curata.workdir import write_json

RESULT_FILE = "compare.json"
SIDES = ("raw", "curated")


def prompt_key(conversation: Conversation) -> str:
    users = [t["content"] for t in conversation if t["role"] == "user"]
    return re.sub(r"\s+", " ", users[-1] if users else "").strip().lower()


def last_prompt(conversation: Conversation) -> str:
    return next((t["content"] for t in reversed(conversation) if t["role"] == "user"), "")


def budget_steps(tokens: int, settings: FinetuneSettings) -> int:
    """Steps for `settings.epochs` passes over `tokens` packed tokens."""
    per_step = settings.batch_size * settings.grad_accum * settings.max_length
    return max(1, math.ceil(tokens * settings.epochs / per_step))


def data_tokens(tokenizer: Any, data: TrainingData) -> tuple[int, int]:
    """(all tokens, assistant tokens) of a dataset as packing sees it."""
    examples = [tokenize_conversation(tokenizer, c) for c in data.conversations]
    return sum(len(e.input_ids) for e in examples), sum(e.trained_tokens for e in examples)


def compare(
    raw: list[str],
    curated: list[str],
    model_path: str,
    eval_specs: list[str],
    out_dir: Path,
    settings: FinetuneSettings,
    judge_spec: str | None = None,
    max_eval: int | None = None,
    max_new_tokens: int = 128,
    reporter: Reporter | None = None,
) -> dict[str, Any]:
    reporter = reporter or SilentReporter()
    data = {"raw": read_training_data(raw), "curated": read_training_data(curated)}
    evaluation = read_training_data(eval_specs).conversations[:max_eval]
    judge, judge_note = load_judge(judge_spec)
    tokenizer = load_tokenizer(model_path)
    ensure_chat_template(tokenizer)
    sizes = {side: data_tokens(tokenizer, d) for side, d in data.items()}
    epochs = planned_epochs(len(data["curated"].conversations))
    steps = settings.max_steps or budget_steps(sizes["curated"][0], replace(settings, epochs=epochs))
    budget = replace(settings, pack=True, max_steps=steps)
    eval_keys = {prompt_key(c) for c in evaluation}

    base = on_best_device(load_model(model_path))
    window = context_length(base)
    base_loss = eval_loss(base, tokenizer, evaluation, window, reporter, "eval loss, base model")
    prompts = [last_prompt(c) for c in evaluation]
    del base
    sides: dict[str, Any] = {}
    answers: dict[str, list[str]] = {}
    for side in SIDES:
        result = finetune(
            data[side].conversations, model_path, out_dir / side, budget, reporter, f"train {side}"
        )
        model = on_best_device(load_trained(model_path, result.output_dir))
        loss = eval_loss(model, tokenizer, evaluation, window, reporter, f"eval loss, {side}")
        if judge is not None:
            started = time.perf_counter()
            answers[side] = generate_answers(
                model, tokenizer, evaluation, max_new_tokens, reporter, f"answers, {side}"
            )
            generation_seconds = round(time.perf_counter() - started, 3)
        else:
            generation_seconds = None
        sides[side] = {
            "data": data[side].sources,
            "records": len(data[side].conversations),
            "skipped_without_answer": data[side].skipped_no_answer,
            "bad_lines": data[side].bad_lines,
            "data_tokens": sizes[side][0],
            "data_assistant_tokens": sizes[side][1],
            "epochs_over_data": round(result.tokens_seen / sizes[side][0], 3) if sizes[side][0] else None,
            "eval_prompts_in_training_data": sum(
                1 for c in data[side].conversations if prompt_key(c) in eval_keys
            ),
            "train": result.to_json(),
            "eval_loss": round(loss.loss, 6),
            "eval_perplexity": round(loss.perplexity, 4),
            "generation_seconds": generation_seconds,
        }
        del model
    judged: dict[str, Any] = {"judge": judge_note}
    if judge is not None:
        rate = win_rate(judge, prompts, answers["raw"], answers["curated"])
        judged |= {
            "curated_wins": rate.wins,
            "raw_wins": rate.losses,
            "ties": rate.ties,
            "curated_win_rate": round(rate.rate, 4),
            "examples": [
                {"prompt": p, "raw": a, "curated": b}
                for p, a, b in list(zip(prompts, answers["raw"], answers["curated"], strict=True))[:5]
            ],
        }
    report = {
        "model": str(model_path),
        "eval": {"data": eval_specs, "examples": len(evaluation), "assistant_tokens": base_loss.tokens},
        "budget": {
            "steps": steps,
            "batch_size": budget.batch_size * budget.grad_accum,
            "block_tokens": budget.max_length,
            "tokens_per_side": steps * budget.batch_size * budget.grad_accum * budget.max_length,
            "how": "both sides packed into blocks of block_tokens and trained for the same steps, "
            "batch size, seed and schedule",
        },
        "settings": budget.to_json(),
        "base_eval_loss": round(base_loss.loss, 6),
        "sides": sides,
        "judge": judged,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / RESULT_FILE, report)
    return report
