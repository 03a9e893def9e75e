"""`curata finetune`: supervised fine-tuning with TRL's SFTTrainer, LoRA/QLoRA through peft or full.

The dataset is tokenised here (chat template, assistant-only labels; see `chat.py`) and handed to
SFTTrainer already tokenised, so TRL uses our labels as they are.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curata.errors import CurataError
from curata.progress import Reporter, SilentReporter, Task
from curata.train.chat import Conversation, Example, ensure_chat_template, pack, tokenize_conversation
from curata.train.deps import qlora_available, require_training
from curata.train.models import count_parameters, load_model, load_tokenizer
from curata.train.settings import FinetuneSettings

RESULT_FILE = "finetune.json"


@dataclass
class FinetuneResult:
    method: str
    output_dir: str
    steps: int
    seconds: float
    train_loss: float | None
    examples: int
    # Tokens the model read during training (padding excluded) and those with a loss (assistant turns).
    tokens_seen: int
    trained_tokens: int
    trainable_parameters: int
    total_parameters: int
    fallback_chat_template: bool
    settings: dict[str, Any]
    losses: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def build_examples(
    tokenizer: Any, conversations: list[Conversation], settings: FinetuneSettings
) -> list[Example]:
    # Packed examples may span blocks, so they are cut only into blocks, never truncated.
    limit = None if settings.pack else settings.max_length
    examples = [tokenize_conversation(tokenizer, c, limit) for c in conversations]
    examples = [e for e in examples if e.trained_tokens]
    if settings.pack:
        examples = pack(examples, settings.max_length)
        if len(examples) < settings.batch_size:
            raise CurataError(
                f"the data packs into {len(examples)} blocks of {settings.max_length} tokens, fewer than "
                f"one batch of {settings.batch_size}: lower --max-length or --batch-size"
            )
    if not examples:
        raise CurataError("no training example has an assistant token within max_length")
    return examples


def lora_config(settings: FinetuneSettings) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=settings.target_modules,
        task_type="CAUSAL_LM",
    )


def planned_steps(n_examples: int, settings: FinetuneSettings) -> int:
    if settings.max_steps is not None:
        return settings.max_steps
    per_step = settings.batch_size * settings.grad_accum
    return max(1, math.ceil(n_examples / per_step * settings.epochs))


def finetune(
    conversations: list[Conversation],
    model_path: str | Path,
    out_dir: Path,
    settings: FinetuneSettings,
    reporter: Reporter | None = None,
    label: str = "fine-tune",
) -> FinetuneResult:
    """Train on `conversations` and save the adapter (LoRA/QLoRA) or the model (full) in `out_dir`."""
    require_training()
    import torch
    from datasets import Dataset
    from trl.trainer.sft_config import SFTConfig
    from trl.trainer.sft_trainer import SFTTrainer

    if settings.method == "qlora":
        ok, why = qlora_available()
        if not ok:
            raise CurataError(f"{why}; use --method lora (CPU works) instead")
    tokenizer = load_tokenizer(model_path)
    fallback = ensure_chat_template(tokenizer)
    examples = build_examples(tokenizer, conversations, settings)
    dataset = Dataset.from_dict(
        {"input_ids": [e.input_ids for e in examples], "labels": [e.labels for e in examples]}
    )
    model = load_model(model_path, quantize_4bit=settings.method == "qlora")
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = planned_steps(len(examples), settings)
    config = SFTConfig(
        output_dir=str(out_dir / "checkpoints"),
        max_steps=steps,
        per_device_train_batch_size=settings.batch_size,
        gradient_accumulation_steps=settings.grad_accum,
        learning_rate=settings.lr,
        warmup_steps=math.ceil(settings.warmup_ratio * steps),
        lr_scheduler_type="cosine",
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        max_length=settings.max_length,
        packing=False,
        seed=settings.seed,
        data_seed=settings.seed,
        use_cpu=not torch.cuda.is_available(),
        bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
        include_num_input_tokens_seen="all" if settings.pack else "non_padding",
        disable_tqdm=True,
        dataloader_num_workers=0,
        # Packed runs must see exactly batch x block tokens per step: no short last batch.
        dataloader_drop_last=settings.pack,
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=None if settings.method == "full" else lora_config(settings),
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(progress_callback((reporter or SilentReporter()).task(label, steps, "steps")))
    trainable, total = count_parameters(trainer.model)
    started = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - started
    losses = [float(h["loss"]) for h in trainer.state.log_history if "loss" in h]
    target = out_dir / ("model" if settings.method == "full" else "adapter")
    trainer.save_model(str(target))
    tokenizer.save_pretrained(str(target))
    result = FinetuneResult(
        method=settings.method,
        output_dir=str(target),
        steps=int(trainer.state.global_step),
        seconds=round(seconds, 3),
        train_loss=float(output.training_loss) if output.training_loss is not None else None,
        examples=len(conversations),
        tokens_seen=int(trainer.state.num_input_tokens_seen),
        trained_tokens=trained_tokens_seen(examples, settings, int(trainer.state.global_step)),
        trainable_parameters=trainable,
        total_parameters=total,
        fallback_chat_template=fallback,
        settings=settings.to_json(),
        losses=losses,
    )
    (out_dir / RESULT_FILE).write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    return result


def progress_callback(task: Task) -> Any:
    """A trainer callback that advances curata's progress bar once per optimiser step."""
    from transformers import TrainerCallback

    class StepProgress(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            task.advance(1)

        def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            task.finish()

    return StepProgress()


def trained_tokens_seen(examples: list[Example], settings: FinetuneSettings, steps: int) -> int:
    """Assistant tokens the optimiser saw: whole passes over the data plus the partial last pass
    (estimated from the mean per example; exact when packed blocks are all equal)."""
    per_step = settings.batch_size * settings.grad_accum
    seen = steps * per_step
    total = sum(e.trained_tokens for e in examples)
    full_passes, remainder = divmod(seen, len(examples))
    return int(full_passes * total + remainder * total / len(examples))


def merge_adapter(base_path: str | Path, adapter_dir: str | Path, out_dir: Path) -> Path:
    """Fold a LoRA adapter into its base model and save a plain model directory."""
    require_training()
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_model(base_path), str(adapter_dir))
    merged = model.merge_and_unload()
    out_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(out_dir))
    load_tokenizer(adapter_dir).save_pretrained(str(out_dir))
    return out_dir


def load_trained(base_path: str | Path, result_dir: str | Path) -> Any:
    """The model a fine-tune produced: a full model directory, or the base model with its adapter."""
    path = Path(result_dir)
    if (path / "adapter_config.json").exists():
        from peft import PeftModel

        return PeftModel.from_pretrained(load_model(base_path), str(path))
    return load_model(path)
