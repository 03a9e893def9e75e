"""End to end on the tiny model: LoRA and full fine-tunes train, save, reload and merge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from curata.errors import CurataError
from curata.train.deps import qlora_available
from curata.train.finetune import finetune, load_trained, merge_adapter
from curata.train.models import load_model, load_tokenizer
from curata.train.settings import FinetuneSettings
from tests.train.tiny_model import conversations


def logits(model: torch.nn.Module, tokenizer: object) -> torch.Tensor:
    ids = tokenizer("What is 3 plus 4?", return_tensors="pt")["input_ids"]  # type: ignore[operator]
    with torch.no_grad():
        return model(input_ids=ids).logits  # type: ignore[no-any-return]


def test_lora_trains_saves_reloads_and_merges(tiny_model: Path, tmp_path: Path) -> None:
    settings = FinetuneSettings(
        method="lora", max_steps=12, max_length=64, lora_r=8, lora_alpha=16, learning_rate=3e-3
    )
    result = finetune(conversations(48), tiny_model, tmp_path / "ft", settings)
    assert result.steps == 12
    assert result.losses[-1] < result.losses[0]
    assert 0 < result.trainable_parameters < result.total_parameters
    adapter = Path(result.output_dir)
    assert (adapter / "adapter_config.json").exists() and (adapter / "adapter_model.safetensors").exists()
    assert json.loads((tmp_path / "ft" / "finetune.json").read_text())["steps"] == 12

    tokenizer = load_tokenizer(tiny_model)
    base = logits(load_model(tiny_model), tokenizer)
    reloaded = logits(load_trained(tiny_model, adapter), tokenizer)
    assert not torch.allclose(base, reloaded)
    merged_dir = merge_adapter(tiny_model, adapter, tmp_path / "merged")
    merged = load_model(merged_dir)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert torch.allclose(logits(merged, tokenizer), reloaded, atol=1e-4)


def test_full_finetune_changes_every_weight_and_saves_a_model(tiny_model: Path, tmp_path: Path) -> None:
    settings = FinetuneSettings(method="full", max_steps=6, max_length=64, learning_rate=1e-3)
    result = finetune(conversations(24), tiny_model, tmp_path / "ft", settings)
    assert result.trainable_parameters == result.total_parameters
    saved = Path(result.output_dir)
    assert (saved / "config.json").exists() and (saved / "tokenizer.json").exists()
    tokenizer = load_tokenizer(tiny_model)
    assert not torch.allclose(
        logits(load_model(tiny_model), tokenizer), logits(load_trained(tiny_model, saved), tokenizer)
    )


def test_packed_training_reads_exactly_steps_x_batch_x_block_tokens(tiny_model: Path, tmp_path: Path) -> None:
    settings = FinetuneSettings(method="lora", max_steps=3, max_length=32, batch_size=2, pack=True)
    result = finetune(conversations(5), tiny_model, tmp_path / "ft", settings)
    assert result.tokens_seen == 3 * 2 * 32


@pytest.mark.skipif(qlora_available()[0], reason="this machine can run QLoRA")
def test_qlora_without_gpu_says_why(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(CurataError, match="QLoRA needs"):
        finetune(conversations(4), tiny_model, tmp_path / "ft", FinetuneSettings(method="qlora", max_steps=1))
