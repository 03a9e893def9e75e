"""Builds the near-duplicate benchmark set from real text, with the truth kept.

Sentences of real instruction, answer and review texts in ../shared/data are shuffled into
documents of 60-300 words (so 100k+ distinct documents can come from ~25k source records without
repeating whole records); then some documents are copied exactly (case and spacing changed) and
some copied with 5-15% of their words edited (substituted, deleted or inserted). Every document
carries its family: the original it was copied from (its own index for originals).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

SENTENCE = re.compile(r"(?<=[.!?])\s+")


def source_texts(data_dir: Path) -> Iterator[str]:
    """Every instruction, input and answer text of the real datasets used."""
    for name in (
        "lima/lima.json",
        "gsm8k_alpaca/gsm_8k_train.json",
        "llamafactory_demo/alpaca_en_demo.json",
        "gpteacher_toolformer/toolformer-dedupe-only-dataset.json",
    ):
        for row in json.loads((data_dir / name).read_text(encoding="utf-8")):
            for field in ("instruction", "input", "output", "response"):
                value = row.get(field)
                if isinstance(value, str) and value.strip():
                    yield value
    with (data_dir / "cleanlab_label_errors/imdb_test_subset_with_label_errors.jsonl").open(
        encoding="utf-8"
    ) as f:
        for line in f:
            yield json.loads(line)["text"]


def sentences(data_dir: Path) -> list[str]:
    out = []
    for text in source_texts(data_dir):
        flat = text.replace("<br />", " ").replace("\n", " ")
        out.extend(s.strip() for s in SENTENCE.split(flat) if 4 <= len(s.split()) <= 40)
    return out


def edit_words(text: str, rate: float, vocab: list[str], rng: random.Random) -> str:
    words = text.split()
    out: list[str] = []
    for word in words:
        if rng.random() >= rate:
            out.append(word)
            continue
        action = rng.random()
        if action < 0.5:
            out.append(rng.choice(vocab))
        elif action < 0.75:
            continue
        else:
            out.extend([word, rng.choice(vocab)])
    return " ".join(out)


def build(
    data_dir: Path, n: int, seed: int = 7, exact_share: float = 0.1, near_share: float = 0.15
) -> tuple[list[str], list[int], list[str]]:
    """`n` documents, their family (index of the original) and kind (original/exact/near)."""
    rng = random.Random(seed)
    pool = sentences(data_dir)
    vocab = sorted({w for s in pool[:20000] for w in s.split()})
    n_exact, n_near = int(n * exact_share), int(n * near_share)
    n_orig = n - n_exact - n_near
    docs: list[str] = []
    for _ in range(n_orig):
        target = rng.randint(60, 300)
        parts: list[str] = []
        words = 0
        while words < target:
            s = pool[rng.randrange(len(pool))]
            parts.append(s)
            words += len(s.split())
        docs.append(" ".join(parts))
    family = list(range(n_orig))
    kind = ["original"] * n_orig
    for _ in range(n_exact):
        src = rng.randrange(n_orig)
        text = docs[src]
        docs.append(text.upper() if rng.random() < 0.3 else "  " + text.replace(" ", "  ") + "\n")
        family.append(src)
        kind.append("exact")
    for _ in range(n_near):
        src = rng.randrange(n_orig)
        docs.append(edit_words(docs[src], rng.uniform(0.05, 0.15), vocab, rng))
        family.append(src)
        kind.append("near")
    order = list(range(n))
    rng.shuffle(order)
    return [docs[i] for i in order], [family[i] for i in order], [kind[i] for i in order]
