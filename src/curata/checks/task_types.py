"""A cheap task-type classifier for instructions, from their leading verbs and a few cues.

Good enough to show coverage (how much of the set is code, math, classification...) without a
model; the first matching rule wins, so the order below goes from specific to general.
"""

from __future__ import annotations

import re

TASK_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("code", re.compile(
        r"```|\b(?:python|javascript|java|c\+\+|sql|function|code|script|program|regex|html|css|bash|"
        r"api|class|compile|debug|implement)\b", re.IGNORECASE)),
    ("math", re.compile(
        r"\b(?:calculate|compute|solve|equation|how many|how much|sum of|product of|percent|probability|"
        r"integral|derivative)\b|\d+\s*[-+*/^=]\s*\d+", re.IGNORECASE)),
    ("classification", re.compile(
        r"^(?:classify|categori[sz]e|label|identify (?:the|whether|if)|determine (?:whether|if)|"
        r"is (?:this|the following)|which (?:category|class))|\b(?:sentiment|positive or negative|"
        r"true or false|yes or no)\b", re.IGNORECASE)),
    ("extraction", re.compile(
        r"^(?:extract|find (?:all|the)|list (?:all|the) \w+ (?:in|from|mentioned)|pull out|"
        r"identify (?:all|the \w+ in))", re.IGNORECASE)),
    ("rewrite", re.compile(
        r"^(?:rewrite|rephrase|paraphrase|edit|proofread|correct|improve|simplify|shorten|translate|"
        r"convert|summari[sz]e|make (?:this|the following))", re.IGNORECASE)),
    ("brainstorm", re.compile(
        r"^(?:brainstorm|suggest|list|give me (?:some|a list|ideas)|come up with|generate (?:a list|ideas|"
        r"some)|what are some|name (?:some|a few|\d+))", re.IGNORECASE)),
    ("generation", re.compile(
        r"^(?:write|compose|create|draft|generate|design|describe|tell me a|make up|invent|imagine)",
        re.IGNORECASE)),
    ("qa", re.compile(
        r"^(?:what|who|whom|whose|when|where|why|how|which|is|are|does|do|can|could|should|would|will|"
        r"explain|define)\b|\?\s*$", re.IGNORECASE)),
)  # fmt: skip
TASK_TYPES = (*(name for name, _ in TASK_RULES), "other")
LEADING_NOISE = re.compile(
    r"^(?:please|kindly|can you|could you|would you|i want you to|help me)[\s,]+", re.IGNORECASE
)


# The same rules without IGNORECASE, for lower-cased ASCII text: about twice as fast (Python's
# case-insensitive matching is the slow part), and equal there, since case folding only differs
# from `lower()` on non-ASCII letters (the long s, the Kelvin sign), which take the rules above.
ASCII_RULES = tuple((name, re.compile(pattern.pattern)) for name, pattern in TASK_RULES)
ASCII_NOISE = re.compile(LEADING_NOISE.pattern)


def task_type(instruction: str) -> str:
    text = instruction.strip()
    if text[:2000].isascii():
        lowered = text[:2000].lower()
        return first_rule(ASCII_RULES, lowered, ASCII_NOISE.sub("", lowered[:300]).strip())
    return first_rule(TASK_RULES, text[:2000], LEADING_NOISE.sub("", text[:300].lower()).strip())


def first_rule(rules: tuple[tuple[str, re.Pattern[str]], ...], text: str, head: str) -> str:
    """The first rule matching: code and math anywhere in `text`, the others at its `head`."""
    for name, pattern in rules:
        if pattern.search(text if name in ("code", "math") else head):
            return name
    return "other"
