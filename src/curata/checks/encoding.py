"""`encoding_error`: mojibake (UTF-8 read as Latin-1 or cp1252, found with `ftfy`'s badness
heuristic), the U+FFFD replacement character, and control characters other than tab and newlines.

ASCII text can only have control characters, so it skips the ftfy pass (most records are ASCII).
"""

from __future__ import annotations

import re

from ftfy.badness import badness

from curata.checks.registry import Score, record_check
from curata.records import Record

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]")
# UTF-8 read as Latin-1 or cp1252 leaves a lead character (Â..ô) before a continuation character
# (U+0080..U+00BF or its cp1252 look-alike): only such text goes through ftfy's slower heuristic.
MOJIBAKE_HINT = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]"
)


def encoding_score(text: str) -> tuple[float, str] | None:
    control = CONTROL.search(text)
    if text.isascii():
        return (0.8, f"control character U+{ord(control.group(0)):04X}") if control else None
    if "\ufffd" in text:
        return 1.0, "replacement character U+FFFD (text decoded with errors)"
    bad = badness(text) if MOJIBAKE_HINT.search(text) else 0
    if bad >= 2:
        return 1.0, f"mojibake ({bad} suspicious character sequences)"
    if bad == 1 and len(text) < 400:
        return 0.6, "mojibake (a suspicious character sequence)"
    if control:
        return 0.8, f"control character U+{ord(control.group(0)):04X}"
    return None


@record_check("encoding_error", description="mojibake or invalid characters", action="drop")
def encoding_error(record: Record, settings: object) -> Score | None:
    best: Score | None = None
    for index, turn in enumerate(record.turns):
        found = encoding_score(turn.content)
        if found is not None and (best is None or found[0] > best.value):
            best = Score(found[0], found[1], turn=index)
    return best
