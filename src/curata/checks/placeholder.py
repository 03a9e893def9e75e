"""`placeholder`: template artifacts left in the data: `{{name}}`, `<noinput>`, `[insert ...]`,
`TODO`, lorem ipsum.

Every turn is checked (an unfilled template in a prompt is as broken as one in an answer), but
never inside code: `{{ user.name }}` in a Jinja or Handlebars answer is the answer, not an artifact.
"""

from __future__ import annotations

import re

from curata.checks.registry import Score, record_check
from curata.checks.text import without_code
from curata.records import Record

# (pattern, severity, what)
PATTERNS: tuple[tuple[re.Pattern[str], float, str], ...] = (
    # `{{name}}`, not `{{ user }}`, `{{ github.repository }}` or `{{ x | upper }}`: spaced, dotted
    # and filtered variables are template code (Jinja, GitHub Actions) even outside a fence.
    (re.compile(r"(?<![$\w])\{\{[A-Za-z_]\w{0,39}\}\}"), 1.0, "unfilled template variable"),
    (re.compile(r"<\s*no\s*_?input\s*>", re.IGNORECASE), 1.0, "'<noinput>' marker"),
    (
        re.compile(
            r"\[\s*(?:insert|fill in|(?:enter|add|put) (?:your|the|a|an|name|date|here))\b[^\]\n]{0,80}\]",
            re.IGNORECASE,
        ),
        1.0,
        "'[insert ...]'",
    ),
    (re.compile(r"\blorem ipsum\b", re.IGNORECASE), 1.0, "lorem ipsum filler"),
    (re.compile(r"^\s*(?:TODO|TBD|FIXME)\b|\b(?:TODO|TBD|FIXME):", re.MULTILINE), 0.8, "TODO marker"),
    (
        re.compile(r"\[(?:your|recipient['’]?s?|company|client) [\w' ]{1,30}\]", re.IGNORECASE),
        0.3,
        "fill-in bracket such as '[Your Name]'",
    ),
)
TRIGGERS = ("{{", "<", "[", "orem", "TODO", "TBD", "FIXME")


def placeholder_score(text: str) -> tuple[float, str] | None:
    if not any(t in text for t in TRIGGERS):
        return None
    prose = without_code(text)
    for pattern, severity, what in PATTERNS:
        match = pattern.search(prose)
        if match is not None:
            return severity, f"{what}: '{match.group(0).strip()[:60]}'"
    return None


@record_check(
    "placeholder",
    description="template artifacts: <noinput>, {{var}}, TODO, lorem ipsum, [insert ...]",
    action="drop",
)
def placeholder(record: Record, settings: object) -> Score | None:
    best: Score | None = None
    for index, turn in enumerate(record.turns):
        found = placeholder_score(turn.content)
        if found is not None and (best is None or found[0] > best.value):
            best = Score(found[0], found[1], turn=index)
    return best
