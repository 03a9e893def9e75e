"""Load a causal language model and its tokenizer from a local directory only; nothing is downloaded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from curata.errors import InputError


def check_model_dir(path: str | Path, needs: str = "config.json") -> Path:
    model_dir = Path(path)
    if not model_dir.is_dir():
        raise InputError("no such model directory (models load from local paths only)", path=str(path))
    if not (model_dir / needs).exists():
        raise InputError(f"not a model directory: {needs} is missing", path=str(path))
    return model_dir


def load_tokenizer(path: str | Path) -> Any:
    from transformers import AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tokenizer = AutoTokenizer.from_pretrained(
        str(check_model_dir(path, "tokenizer_config.json")), local_files_only=True
    )
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(
            "a fast tokenizer (tokenizer.json) is needed to find assistant tokens", path=str(path)
        )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return tokenizer


def load_model(path: str | Path, quantize_4bit: bool = False) -> Any:
    from transformers import AutoModelForCausalLM

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    kwargs: dict[str, Any] = {"local_files_only": True}
    if quantize_4bit:
        import torch
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(  # type: ignore[no-untyped-call]
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    return AutoModelForCausalLM.from_pretrained(str(check_model_dir(path)), **kwargs)


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameters."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return int(trainable), int(total)
