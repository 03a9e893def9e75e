"""Default fine-tuning settings from `curata plan`, for the data and model at hand."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from curata.errors import CurataError
from curata.train.hardware import Hardware
from curata.train.models import check_model_dir
from curata.train.plan import make_plan
from curata.train.settings import METHODS, FinetuneSettings, Method
from curata.train.stats import DataStats, stats_from_run, stats_from_token_counts


def model_parameters(model: str | Path) -> float:
    """Parameters of a local model, from its weights' size on disk (no loading)."""
    folder = check_model_dir(model)
    size = sum(p.stat().st_size for p in folder.glob("*.safetensors")) or sum(
        p.stat().st_size for p in folder.glob("*.bin")
    )
    dtype = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("torch_dtype", "float32")
    width = 4 if dtype in ("float32", None) else 2
    return max(size / width, 1e6)


def local_hardware() -> Hardware:
    import torch

    if not torch.cuda.is_available():
        return Hardware(0, 0.0)
    memory = torch.cuda.get_device_properties(0).total_memory / 1024**3
    return Hardware(torch.cuda.device_count(), round(memory, 1))


def data_stats(data: Sequence[str], model: str, record_format: str | None) -> DataStats:
    if len(data) == 1 and (Path(data[0]) / "summary.json").exists():
        return stats_from_run(Path(data[0]))
    from curata.train.chat import ensure_chat_template, prompt_ids, tokenize_conversation
    from curata.train.data import read_training_data
    from curata.train.models import load_tokenizer

    tokenizer = load_tokenizer(model)
    ensure_chat_template(tokenizer)
    conversations = read_training_data(data, record_format).conversations
    prompts, responses, turns = [], [], []
    for c in conversations:
        total = len(tokenize_conversation(tokenizer, c).input_ids)
        prompt = len(prompt_ids(tokenizer, c))
        prompts.append(prompt)
        responses.append(max(total - prompt, 0))
        turns.append(len(c))
    return stats_from_token_counts(prompts, responses, turns)


def planned_settings(
    data: Sequence[str], model: str, method: str, record_format: str | None
) -> tuple[FinetuneSettings, str]:
    """The plan's settings for this data, model and machine, with the method the user chose."""
    if method not in METHODS:
        raise CurataError(f"--method must be one of {', '.join(METHODS)}, not '{method}'")
    plan = make_plan(data_stats(data, model, record_format), model_parameters(model), local_hardware())
    settings = plan.settings
    chosen: Method = method
    if chosen != settings.method:
        settings.learning_rate = None
    settings.method = chosen
    note = (
        f"plan: {plan.method} recommended ({plan.enough_data} data, {plan.stats.records:,} examples); "
        f"training {chosen}: lr {settings.lr:g}, epochs {settings.epochs:g}, max length {settings.max_length}"
        + (f", LoRA r={settings.lora_r}" if chosen != "full" else "")
    )
    return settings, note
