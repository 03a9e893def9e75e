"""`refusal`: the answer refuses or deflects instead of answering.

Many phrasings, each with a weight, matched only in what the assistant says itself: quoted speech,
block quotes and code are removed first, so a story in which a character says "I'm sorry, I can't
do that" is not a refusal. Where the phrase sits matters: a refusal that opens a short answer is
the whole answer; the same words deep inside a long helpful answer are a disclaimer.
"""

from __future__ import annotations

import re

from curata.checks.registry import Score, record_check
from curata.checks.text import without_code, without_quotes, words
from curata.records import Record, Role

_APOS = "['’]"
# (pattern, weight): strong phrasings refuse outright; weak ones deflect or disclaim.
PHRASES: tuple[tuple[str, float], ...] = (
    (rf"\bi{_APOS}?m (?:really |very |so )?sorry,? but (?:i|as an ai)\b", 0.9),
    (
        rf"\bi (?:can(?:not|{_APOS}t)|won{_APOS}t|will not|am unable to|{_APOS}?m unable to|am not able to|"
        rf"{_APOS}?m not able to) (?:help(?! but)|assist|provide|fulfil+|comply|create|generate|write|answer|"
        r"do that|engage|support|participate|discuss|give)",
        0.85,
    ),
    (r"\bi must (?:respectfully )?(?:decline|refuse)\b", 0.9),
    (r"\b(?:i{_APOS}?m|i am) not (?:comfortable|in a position to)\b".replace("{_APOS}", _APOS), 0.7),
    (
        rf"\b(?:as an ai(?: language model| assistant| model)?|as a (?:large )?language model|"
        rf"i{_APOS}?m (?:just |only )?(?:an ai|a (?:large )?language model)),? (?:\w+ ){{0,3}}?"
        rf"(?:can(?:not|{_APOS}t)|don{_APOS}t|do not|am not|{_APOS}m not|am unable|won{_APOS}t|"
        r"will not|have no)\b",
        0.8,
    ),
    (r"\bas an ai(?: language model| assistant| model)?\b|\bas a (?:large )?language model\b", 0.4),
    (rf"\bi{_APOS}?m (?:just|only) an ai\b", 0.4),
    (
        r"\bi (?:do not|don['’]t) have (?:personal (?:opinions|experiences|feelings|beliefs)|"
        r"the ability to|access to (?:real-time|the internet|current))",
        0.5,
    ),
    (r"\b(?:it is|it['’]s) not appropriate (?:for me )?to\b", 0.7),
    (r"\bagainst my (?:programming|guidelines|policy|policies|ethical guidelines)\b", 0.85),
    (r"\bviolates? (?:my|openai['’]s|the) (?:content |usage )?(?:policy|policies|guidelines)\b", 0.85),
    (r"\bi (?:can(?:not|['’]t)|am unable to) (?:browse|access) the (?:internet|web)\b", 0.6),
    (
        r"\b(?:sorry|unfortunately),? (?:but )?(?:i|this) "
        r"(?:can(?:not|['’]t)|am unable|is not something i)\b",
        0.8,
    ),
    (r"\bi apologi[sz]e,? but (?:i|this)\b", 0.75),
    (
        r"\bno puedo (?:ayudar|proporcionar)|je ne peux pas (?:vous aider|fournir)|"
        r"ich kann (?:ihnen )?(?:dabei )?nicht helfen|我不能|我无法|抱歉，我",
        0.8,
    ),
)
PATTERNS = tuple((re.compile(p, re.IGNORECASE), w) for p, w in PHRASES)
# Cheap first pass: every phrasing contains one of these (lower-cased) substrings.
_TRIGGER_TEXT = (
    "sorry|cannot|can't|can’t|unable|decline|refuse|an ai|language model|won't|won’t|will not|not able|"
    "comfortable|position to|appropriate|against my|violate|apologi|don't have|do not have|don’t have|"
    "no puedo|ne peux pas|nicht helfen|不能|无法|抱歉"
)
TRIGGERS = tuple(_TRIGGER_TEXT.split("|"))
# A refusal that starts within this many characters of the answer is its opening.
OPENING_CHARS = 200
SHORT_ANSWER_WORDS = 80
SEARCH_CHARS = 1500


def refusal_score(text: str) -> tuple[float, str] | None:
    head = text[:SEARCH_CHARS]
    lowered = head.lower()
    if not any(t in lowered for t in TRIGGERS):
        return None
    # Refusals open (or make up) an answer: the first characters are enough, and long answers stay
    # cheap. Deeper phrases would only be disclaimers, scored under the threshold anyway.
    own = without_quotes(without_code(head))
    found = [(m, w) for pattern, w in PATTERNS if (m := pattern.search(own)) is not None]
    if not found:
        return None
    short = len(text) <= SEARCH_CHARS and len(words(own)) <= SHORT_ANSWER_WORDS
    best: tuple[float, str] | None = None
    for match, weight in found:
        opening = match.start() < OPENING_CHARS
        # A refusal is the answer when it opens it and little else follows.
        scale = 1.0 if opening and short else 0.75 if opening else 0.35
        score = weight * scale
        if best is None or score > best[0]:
            best = (score, f"refusal phrase '{match.group(0)}'")
    return best


@record_check(
    "refusal",
    description='the answer refuses or deflects ("As an AI language model, I cannot...")',
    action="drop",
)
def refusal(record: Record, settings: object) -> Score | None:
    best: Score | None = None
    for index, turn in enumerate(record.turns):
        if turn.role is not Role.ASSISTANT:
            continue
        found = refusal_score(turn.content)
        if found is not None and (best is None or found[0] > best.value):
            best = Score(found[0], found[1], turn=index)
    return best
