"""Model-free signals of answer quality, each in [0, 1] (higher is better) or None when it does not
apply. They describe what a reader sees in a weak answer:

- relevance: the share of the prompt's content words (stop words dropped, 6-letter stems) that
  the answer uses (answers to another question, or generic filler, share little with the prompt);
- diversity: moving-average type-token ratio of the answer (padding and loops repeat words);
- style: free of role-play stage directions (`*giggle*`) and runs of exclamation marks;
- length: only very short answers score low (a label dataset is judged by `too_short` instead).
"""

from __future__ import annotations

import math
import re

from curata.checks.text import content_word_set, without_code, words

EMOTE = re.compile(r"(?<![*\w])\*[a-z][a-z \-]{1,25}\*(?![*\w])")
RELEVANCE_SATURATION = 1.0
MATTR_WINDOW = 50


def relevance(prompt: str, answer: str) -> float | None:
    asked = content_word_set(prompt)
    if len(asked) < 3:
        return None
    said = content_word_set(answer)
    return min(1.0, len(asked & said) / len(asked) / RELEVANCE_SATURATION)


def diversity(answer: str) -> float | None:
    tokens = words(without_code(answer))
    if len(tokens) < 20:
        return None
    if len(tokens) <= MATTR_WINDOW:
        ratio = len(set(tokens)) / len(tokens)
    else:
        step = max(1, (len(tokens) - MATTR_WINDOW) // 40)
        spans = range(0, len(tokens) - MATTR_WINDOW + 1, step)
        distinct = sum(map(len, map(set, (tokens[i : i + MATTR_WINDOW] for i in spans))))
        ratio = distinct / (len(spans) * MATTR_WINDOW)
    return min(1.0, max(0.0, (ratio - 0.4) / 0.4))


def style(answer: str) -> float | None:
    if not answer.strip():
        return None
    # Both tests need their character: skip the regex scans when it is absent (most answers).
    emotes = len(EMOTE.findall(answer)) if "*" in answer else 0
    exclaims = without_code(answer).count("!") * 100 / max(len(answer), 1) if "!" in answer else 0.0
    return 1.0 / (1.0 + emotes) * math.exp(-exclaims / 2)


def length(answer_tokens: float) -> float:
    return min(1.0, math.log1p(max(answer_tokens, 0.0)) / math.log1p(8))
