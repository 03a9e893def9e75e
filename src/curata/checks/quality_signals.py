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

from curata.checks.text import without_code, words

_STOPWORDS_TEXT = (
    "a about above after again all also am an and any are as at be because been before being "
    "below between both but by can could did do does doing down during each few for from further "
    "had has have having he her here hers him his how i if in into is it its itself just me more "
    "most my no nor not now of off on once only or other our ours out over own same she should "
    "so some such than that the their theirs them then there these they this those through to "
    "too under until up very was we were what when where which while who whom why will with "
    "would you your yours please following given answer question write using use one two"
)
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
EMOTE = re.compile(r"(?<![*\w])\*[a-z][a-z \-]{1,25}\*(?![*\w])")
EXCLAIM = re.compile(r"!")
RELEVANCE_SATURATION = 1.0
MATTR_WINDOW = 50


def content_words(text: str) -> list[str]:
    # A 6-letter prefix is a cheap stemmer: "running"/"runner" stay apart, "explain"/"explains" meet.
    return [w[:6] for w in words(text) if len(w) > 2 and w not in STOPWORDS]


def relevance(prompt: str, answer: str) -> float | None:
    asked = set(content_words(prompt))
    if len(asked) < 3:
        return None
    said = set(content_words(answer))
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
        ratio = sum(len(set(tokens[i : i + MATTR_WINDOW])) for i in spans) / (len(spans) * MATTR_WINDOW)
    return min(1.0, max(0.0, (ratio - 0.4) / 0.4))


def style(answer: str) -> float | None:
    if not answer.strip():
        return None
    emotes = len(EMOTE.findall(answer))
    exclaims = len(EXCLAIM.findall(without_code(answer))) * 100 / max(len(answer), 1)
    return 1.0 / (1.0 + emotes) * math.exp(-exclaims / 2)


def length(answer_tokens: float) -> float:
    return min(1.0, math.log1p(max(answer_tokens, 0.0)) / math.log1p(8))
