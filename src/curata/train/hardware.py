"""Model size, hardware and memory estimates for fine-tuning advice (pure arithmetic, no torch)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from curata.errors import CurataError

GIB = 1024**3

# Typical decoder shapes (layers, hidden size, vocabulary) by parameter count: Llama-style models.
SHAPES: tuple[tuple[float, int, int, int], ...] = (
    (0.135e9, 30, 576, 49_152),  # SmolLM2-135M
    (0.5e9, 24, 896, 151_936),  # Qwen2.5-0.5B
    (1.2e9, 16, 2048, 128_256),  # Llama-3.2-1B
    (3.2e9, 28, 3072, 128_256),  # Llama-3.2-3B
    (7e9, 32, 4096, 32_000),  # Llama-2-7B / Mistral-7B
    (8e9, 32, 4096, 128_256),  # Llama-3-8B
    (13e9, 40, 5120, 32_000),  # Llama-2-13B
    (34e9, 48, 8192, 32_000),  # CodeLlama-34B
    (70e9, 80, 8192, 128_256),  # Llama-3-70B
)
# MLP width over hidden size in Llama-style models (SwiGLU, ~8/3 rounded up).
MLP_RATIO = 2.7


@dataclass(frozen=True)
class ModelShape:
    params: float
    layers: int
    hidden: int
    vocab: int

    def lora_params(self, rank: int) -> int:
        """LoRA parameters on every linear layer: q, k, v, o (h x h) and gate, up, down (h x 2.7h)."""
        attention = 4 * rank * 2 * self.hidden
        mlp = 3 * rank * (self.hidden + int(MLP_RATIO * self.hidden))
        return (attention + mlp) * self.layers


@dataclass(frozen=True)
class Hardware:
    gpus: int
    gpu_memory_gb: float

    @property
    def has_gpu(self) -> bool:
        return self.gpus > 0

    @property
    def label(self) -> str:
        if not self.has_gpu:
            return "CPU (no GPU)"
        count = f"{self.gpus} x " if self.gpus > 1 else ""
        return f"{count}{self.gpu_memory_gb:g} GB GPU"


def parse_model_size(text: str) -> float:
    """'7B', '135M', '1.5b', '7e9' -> parameters."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmbt]?)\s*", text.lower())
    if not match:
        raise CurataError(f"--model-size must look like 7B, 1.5B or 135M, not '{text}'")
    scale = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "t": 1e12}[match.group(2)]
    value = float(match.group(1)) * scale
    if value < 1e6:
        raise CurataError(f"--model-size '{text}' is under a million parameters; write 135M or 7B")
    return value


def parse_gpu(text: str) -> Hardware:
    """'24GB', '80G', '2x24GB', 'cpu' or 'none'."""
    lowered = text.strip().lower()
    if lowered in ("cpu", "none", "0", "no"):
        return Hardware(0, 0.0)
    match = re.fullmatch(r"(?:(\d+)\s*x\s*)?([0-9]*\.?[0-9]+)\s*(gb|g|gib)?", lowered)
    if not match:
        raise CurataError(f"--gpu must look like 24GB, 2x80GB or cpu, not '{text}'")
    return Hardware(int(match.group(1) or 1), float(match.group(2)))


def model_shape(params: float) -> ModelShape:
    """The nearest typical shape, its layer and width scaled to the asked size."""
    nearest = min(SHAPES, key=lambda s: abs(math.log(s[0] / params)))
    factor = math.sqrt(params / nearest[0])
    return ModelShape(params, nearest[1], max(64, int(nearest[2] * factor)), nearest[3])


@dataclass(frozen=True)
class MemoryEstimate:
    weights: float
    gradients: float
    optimizer: float
    activations: float
    overhead: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer + self.activations + self.overhead

    def to_json(self) -> dict[str, float]:
        parts = {
            "weights": self.weights,
            "gradients": self.gradients,
            "optimizer": self.optimizer,
            "activations": self.activations,
            "overhead": self.overhead,
            "total": self.total,
        }
        return {k: round(v / GIB, 2) for k, v in parts.items()}


def activation_bytes(shape: ModelShape, seq: int, batch: int) -> float:
    """With gradient checkpointing: each layer's input kept (2 bytes x s x h x L), one layer's
    activations recomputed at a time (~34 s h bytes, Korthikanti et al. 2022, flash attention so no
    s^2 term), and the fp32 logits (4 s V bytes), per sequence."""
    per_sequence = 2 * seq * shape.hidden * shape.layers + 34 * seq * shape.hidden + 4 * seq * shape.vocab
    return float(batch * per_sequence)


def estimate_memory(method: str, shape: ModelShape, rank: int, seq: int, batch: int = 1) -> MemoryEstimate:
    """Bytes to train with AdamW in mixed precision. Full: bf16 weights and gradients plus fp32 master
    weights and two moments, 16 bytes per parameter (ZeRO, Rajbhandari et al. 2020). LoRA: frozen
    bf16 weights plus 16 bytes per adapter parameter. QLoRA: NF4 weights with double quantisation,
    about 4.13 bits per parameter (Dettmers et al. 2023), plus the adapters."""
    activations = activation_bytes(shape, seq, batch)
    if method == "full":
        weights, gradients, optimizer = 2 * shape.params, 2 * shape.params, 12 * shape.params
    else:
        adapter = shape.lora_params(rank)
        weights = (4.127 / 8 if method == "qlora" else 2.0) * shape.params + 2 * adapter
        gradients, optimizer = 2.0 * adapter, 12.0 * adapter
    overhead = 0.08 * (weights + gradients + optimizer + activations) + 0.75 * GIB
    return MemoryEstimate(weights, gradients, optimizer, activations, overhead)
