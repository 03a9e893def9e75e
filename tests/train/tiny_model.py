"""A tiny random GPT-2-like model (2 layers) with a BPE tokenizer trained here: fast, offline tests."""

from __future__ import annotations

from pathlib import Path

from curata.train.chat import FALLBACK_CHAT_TEMPLATE

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]


def conversations(n: int, offset: int = 0) -> list[list[dict[str, str]]]:
    """Simple arithmetic chats: learnable enough that loss falls within a few steps."""
    return [
        [
            {"role": "user", "content": f"What is {i % 17} plus {i % 5}?"},
            {"role": "assistant", "content": f"{i % 17} plus {i % 5} is {i % 17 + i % 5}."},
        ]
        for i in range(offset, offset + n)
    ]


def build_tiny_model(path: Path, chat_template: str | None = FALLBACK_CHAT_TEMPLATE) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    path.mkdir(parents=True, exist_ok=True)
    texts = [t["content"] for c in conversations(200) for t in c]
    texts += ["user assistant system tool The answer is yes no because of and the a"] * 5
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    bpe.train_from_iterator(texts, trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe, eos_token="<|im_end|>", bos_token="<|endoftext|>", pad_token="<pad>"
    )
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    tokenizer.save_pretrained(str(path))
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=256,
        n_embd=64,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    import torch

    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(str(path))
    return path
