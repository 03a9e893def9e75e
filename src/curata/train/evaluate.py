"""Held-out loss on assistant tokens, and answers to eval prompts for a judge."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from curata.errors import CurataError
from curata.progress import Reporter, SilentReporter
from curata.train.chat import IGNORE_INDEX, Conversation, prompt_ids, tokenize_conversation


@dataclass
class EvalLoss:
    loss: float
    tokens: int
    examples: int

    @property
    def perplexity(self) -> float:
        return math.exp(min(self.loss, 50.0))


def eval_loss(
    model: Any,
    tokenizer: Any,
    conversations: list[Conversation],
    max_length: int = 1024,
    reporter: Reporter | None = None,
    label: str = "eval loss",
) -> EvalLoss:
    """Mean cross-entropy per assistant token (every token weighs the same, whatever its example)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    total, tokens, used = 0.0, 0, 0
    task = (reporter or SilentReporter()).task(label, len(conversations), "examples")
    with torch.no_grad():
        for conversation in conversations:
            example = tokenize_conversation(tokenizer, conversation, max_length)
            task.advance(1)
            labels = torch.tensor([example.labels], device=device)
            if example.trained_tokens == 0:
                continue
            logits = model(input_ids=torch.tensor([example.input_ids], device=device)).logits.float()
            shifted = labels[:, 1:]
            loss = torch.nn.functional.cross_entropy(
                logits[:, :-1].reshape(-1, logits.shape[-1]),
                shifted.reshape(-1),
                ignore_index=IGNORE_INDEX,
                reduction="sum",
            )
            total += float(loss)
            tokens += int((shifted != IGNORE_INDEX).sum())
            used += 1
    task.finish()
    if not tokens:
        raise CurataError(f"no eval example has an assistant token within the first {max_length} tokens")
    return EvalLoss(total / tokens, tokens, used)


def on_best_device(model: Any) -> Any:
    """The model on the GPU when there is one (evaluation is a forward pass per example)."""
    import torch

    return model.to("cuda") if torch.cuda.is_available() else model


def context_length(model: Any, cap: int = 2048) -> int:
    """How many tokens the model reads at once (capped): eval examples are cut only there."""
    config = model.config
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return min(value, cap)
    return cap


def generate_answers(
    model: Any,
    tokenizer: Any,
    conversations: list[Conversation],
    max_new_tokens: int = 128,
    reporter: Reporter | None = None,
    label: str = "answers",
) -> list[str]:
    """Greedy answers to each conversation's last prompt (deterministic, so runs repeat)."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    answers = []
    task = (reporter or SilentReporter()).task(label, len(conversations), "prompts")
    with torch.no_grad():
        for conversation in conversations:
            ids = prompt_ids(tokenizer, conversation)
            output = model.generate(
                input_ids=torch.tensor([ids], device=device),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
            answers.append(str(tokenizer.decode(output[0, len(ids) :], skip_special_tokens=True)).strip())
            task.advance(1)
    task.finish()
    return answers
