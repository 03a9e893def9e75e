"""Assistant-only labels: the loss sees answers, never prompts, whatever the template."""

from __future__ import annotations

from pathlib import Path

from curata.train.chat import (
    FALLBACK_CHAT_TEMPLATE,
    IGNORE_INDEX,
    Example,
    ensure_chat_template,
    pack,
    tokenize_conversation,
)
from curata.train.models import load_tokenizer

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 3 plus 4?"},
    {"role": "assistant", "content": "3 plus 4 is 7."},
    {"role": "user", "content": "And 2 plus 2?"},
    {"role": "assistant", "content": "2 plus 2 is 4."},
]


def labelled_text(tokenizer: object, example: Example, trained: bool) -> str:
    ids = [
        t
        for t, label in zip(example.input_ids, example.labels, strict=True)
        if (label != IGNORE_INDEX) == trained
    ]
    return str(tokenizer.decode(ids))  # type: ignore[attr-defined]


def test_user_and_system_tokens_get_label_minus_100(tiny_model: Path) -> None:
    tokenizer = load_tokenizer(tiny_model)
    example = tokenize_conversation(tokenizer, CHAT)
    trained = labelled_text(tokenizer, example, trained=True)
    ignored = labelled_text(tokenizer, example, trained=False)
    assert "3 plus 4 is 7." in trained and "2 plus 2 is 4." in trained
    assert "What is 3 plus 4?" in ignored and "And 2 plus 2?" in ignored and "Be brief." in ignored
    assert "What is" not in trained and "Be brief" not in trained
    # The end-of-turn marker after each answer is trained, so the model learns to stop.
    assert trained.count("<|im_end|>") == 2


def test_labels_match_input_ids_on_assistant_tokens(tiny_model: Path) -> None:
    tokenizer = load_tokenizer(tiny_model)
    example = tokenize_conversation(tokenizer, CHAT)
    assert len(example.labels) == len(example.input_ids)
    assert all(
        label in (IGNORE_INDEX, token) for token, label in zip(example.input_ids, example.labels, strict=True)
    )
    assert 0 < example.trained_tokens < len(example.input_ids)


def test_fallback_template_only_when_the_tokenizer_has_none(
    tiny_model: Path, tiny_model_without_template: Path
) -> None:
    own = load_tokenizer(tiny_model)
    plain = load_tokenizer(tiny_model_without_template)
    own.chat_template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
    assert ensure_chat_template(own) is False
    assert ensure_chat_template(plain) is True
    assert plain.chat_template == FALLBACK_CHAT_TEMPLATE
    # The model's own template is used as is, and masking still finds the answers in it.
    example = tokenize_conversation(own, CHAT)
    assert "[assistant] 3 plus 4 is 7." in own.decode(example.input_ids)
    assert "What is" not in labelled_text(own, example, trained=True)


def test_pack_cuts_equal_blocks_and_keeps_labels_aligned() -> None:
    examples = [
        Example(list(range(i, i + 7)), [IGNORE_INDEX] * 3 + list(range(i + 3, i + 7))) for i in (0, 100, 200)
    ]
    blocks = pack(examples, 8)
    assert [len(b.input_ids) for b in blocks] == [8, 8]
    assert blocks[0].input_ids == [0, 1, 2, 3, 4, 5, 6, 100]
    assert blocks[0].labels == [IGNORE_INDEX] * 3 + [3, 4, 5, 6, IGNORE_INDEX]
