"""Fine-tuning settings: what `curata finetune` trains with; unset values come from `curata plan`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Method = Literal["lora", "qlora", "full"]
METHODS: tuple[Method, ...] = ("lora", "qlora", "full")

# Learning rates the papers used: LoRA/QLoRA 2e-4 (QLoRA, Dettmers et al. 2023, 7B-13B); full
# fine-tuning 1e-5 to 2e-5 (LIMA 1e-5, Alpaca 2e-5).
DEFAULT_LR: dict[Method, float] = {"lora": 2e-4, "qlora": 2e-4, "full": 2e-5}


@dataclass
class FinetuneSettings:
    method: Method = "lora"
    epochs: float = 3.0
    # When set, training stops after exactly this many optimiser steps (epochs are ignored).
    max_steps: int | None = None
    learning_rate: float | None = None
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 1024
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"
    warmup_ratio: float = 0.03
    # Pack examples into blocks of exactly max_length tokens: equal tokens per step (used by compare).
    pack: bool = False
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def lr(self) -> float:
        return self.learning_rate if self.learning_rate is not None else DEFAULT_LR[self.method]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["learning_rate"] = self.lr
        out.pop("extra")
        return out
