"""`repetition`: the answer loops on repeated n-grams, lines or sentences.

Three views, each a share of the text that is a repeat (Gopher-style), with a length floor so a
short answer is never judged on a handful of units:
- lines and sentences: the share of them that already appeared (a model stuck in a loop);
- word 10-grams: the share of 10-grams seen before (loops that span line breaks);
- the tail: the same sentence or line repeated back to back at the end (degenerate decoding).

A poem or song with a refrain repeats some lines, but its distinct-line ratio stays well above a
loop's; lines are only counted when they repeat *consecutively* or when fewer than half of the
lines are distinct, which leaves choruses and anaphora alone.
"""

from __future__ import annotations

from collections import Counter
from itertools import pairwise

from curata.checks.registry import Score, record_check
from curata.checks.text import sentences, without_code, words
from curata.records import Record, Role

MIN_UNITS = 6
NGRAM = 10
MIN_WORDS_FOR_NGRAMS = 60
SHORT_UNIT_RUN = 8


def repeated_share(units: list[str]) -> float:
    """The share of units that repeat an earlier one."""
    if len(units) < MIN_UNITS:
        return 0.0
    return 1.0 - len(set(units)) / len(units)


def longest_run(units: list[str]) -> int:
    """The longest stretch of one unit repeated back to back. Units of one or two words (table
    cells, type names in a list) count only in runs of `SHORT_UNIT_RUN` or more."""
    best = run = 1
    for a, b in pairwise(units):
        # A unit that differs from the next resets the run to 1, which never raises `best`.
        if a != b:
            run = 1
            continue
        run += 1
        if run >= SHORT_UNIT_RUN or len(a.split()) >= 3:
            best = max(best, run)
    return best if units else 0


def ngram_repeat_share(tokens: list[str], n: int = NGRAM) -> float:
    if len(tokens) < MIN_WORDS_FOR_NGRAMS:
        return 0.0
    total = len(tokens) - n + 1
    # zip builds the n-gram tuples in C; their hashes reuse the words' cached string hashes.
    return 1.0 - len(set(zip(*(tokens[i:] for i in range(n)), strict=False))) / total


def repetition_score(text: str) -> tuple[float, str] | None:
    prose = without_code(text)
    tokens = words(prose)
    if len(tokens) < 12:
        return None
    lines = [line.lower() for line in map(str.strip, prose.splitlines()) if len(line) > 3]
    sents = [s.lower() for s in sentences(prose.replace("\n", " ")) if len(s) > 3]
    candidates: list[tuple[float, str]] = []
    run = max(longest_run(lines), longest_run(sents))
    if run >= 3:
        candidates.append((min(1.0, 0.5 + 0.1 * run), f"the same line or sentence {run} times in a row"))
    # Short lines (table cells, type names) repeat legitimately; loops repeat sentences.
    line_share = (
        repeated_share([line for line in lines if len(line.split()) >= 3])
        if len(set(lines)) < len(lines)  # no line repeats: no subset of them does either
        else 0.0
    )
    if line_share > 0.5:
        candidates.append((min(1.0, line_share + 0.2), f"{line_share:.0%} of lines repeat an earlier line"))
    sent_share = repeated_share(sents)
    if sent_share > 0.4:
        candidates.append((min(1.0, sent_share + 0.3), f"{sent_share:.0%} of sentences are repeats"))
    gram_share = ngram_repeat_share(tokens)
    if gram_share > 0.3:
        candidates.append(
            (min(1.0, gram_share + 0.25), f"{gram_share:.0%} of word {NGRAM}-grams repeat earlier ones")
        )
    if not candidates:
        # One word can only be over half of the words when under half of them are distinct.
        if len(tokens) < 30 or len(set(tokens)) >= len(tokens) / 2 + 1:
            return None
        top = Counter(tokens).most_common(1)[0]
        if top[1] / len(tokens) > 0.5 and len(top[0]) > 1:
            return min(1.0, top[1] / len(tokens)), f"'{top[0]}' is {top[1] / len(tokens):.0%} of the words"
        return None
    return max(candidates)


@record_check(
    "repetition",
    description="the answer loops on repeated n-grams, lines or sentences",
    action="drop",
)
def repetition(record: Record, settings: object) -> Score | None:
    best: Score | None = None
    for index, turn in enumerate(record.turns):
        if turn.role is not Role.ASSISTANT:
            continue
        found = repetition_score(turn.content)
        if found is not None and (best is None or found[0] > best.value):
            best = Score(found[0], found[1], turn=index)
    return best
