"""Chat formatting for training: the model's own chat template, and labels only on assistant turns.

Each assistant turn's character span is found by rendering the conversation up to that turn with
and without it (the template's own text, end-of-turn marker included); tokens whose characters
start inside a span are trained on, every other token gets the label -100. Working on characters
and the fast tokenizer's offsets keeps this right however BPE merges tokens at turn boundaries,
and needs no `{% generation %}` markers in the template.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

IGNORE_INDEX = -100

# ChatML, used only when a tokenizer has no chat template of its own (the run says so).
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

Conversation = list[dict[str, str]]


@dataclass
class Example:
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE_INDEX)


def ensure_chat_template(tokenizer: Any) -> bool:
    """Give the tokenizer the fallback template if it has none; True when the fallback was used."""
    if getattr(tokenizer, "chat_template", None):
        return False
    tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    return True


def render(tokenizer: Any, turns: Conversation, generation_prompt: bool = False) -> str:
    text = tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=generation_prompt)
    return str(text)


def assistant_spans(tokenizer: Any, turns: Conversation) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of its assistant turns."""
    full = render(tokenizer, turns)
    spans = []
    cursor = 0
    for i, turn in enumerate(turns):
        if turn["role"] != "assistant":
            continue
        before = render(tokenizer, turns[:i], generation_prompt=True) if i else ""
        after = render(tokenizer, turns[: i + 1])
        if full.startswith(after) and after.startswith(before):
            start, end = len(before), len(after)
        else:
            # Templates that rewrite earlier turns (rare): fall back to the answer's own text.
            start = full.find(turn["content"], cursor)
            if start < 0:
                continue
            end = start + len(turn["content"])
        spans.append((start, end))
        cursor = end
    return full, spans


def tokenize_conversation(tokenizer: Any, turns: Conversation, max_length: int | None = None) -> Example:
    text, spans = assistant_spans(tokenizer, turns)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(encoded["input_ids"])
    labels = [
        token if any(start <= begin < end for start, end in spans) else IGNORE_INDEX
        for token, (begin, _) in zip(ids, encoded["offset_mapping"], strict=True)
    ]
    if max_length is not None:
        ids, labels = ids[:max_length], labels[:max_length]
    return Example(ids, labels)


def prompt_ids(tokenizer: Any, turns: Conversation) -> list[int]:
    """Token ids of a conversation up to (not including) its last assistant turn, ready to generate."""
    last = max(i for i, t in enumerate(turns) if t["role"] == "assistant")
    text = render(tokenizer, turns[:last], generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def pack(examples: Iterable[Example], block: int) -> list[Example]:
    """Concatenate examples and cut them into blocks of exactly `block` tokens (the last partial block is
    dropped), so every training step sees the same number of tokens whatever the data."""
    ids: list[int] = []
    labels: list[int] = []
    for example in examples:
        ids.extend(example.input_ids)
        labels.extend(example.labels)
    return [Example(ids[i : i + block], labels[i : i + block]) for i in range(0, len(ids) - block + 1, block)]
