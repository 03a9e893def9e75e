"""`truncated_response`: the answer stops mid-sentence, inside a code block, a list or a JSON value.

Scored by how sure the ending is cut: an unclosed code fence or JSON document is near-certain; a
long prose answer whose last line ends in a word with no closing punctuation is likely; short
answers (labels, names, numbers) and answers ending in code, a table, a list item, a heading or a
URL are normal and not flagged.
"""

from __future__ import annotations

import re

import orjson

from curata.checks.registry import Score, record_check
from curata.checks.text import CODE_TAIL, open_fence, words
from curata.records import Record

_DANGLING_WORDS_TEXT = (
    "a an the and or but of to in on at for with by from as that which who whose is are was were "
    "be this these those my your our their its if then than because while when where such"
)
DANGLING_WORDS = frozenset(_DANGLING_WORDS_TEXT.split())
LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s*(.*)$")
STRUCTURED_LINE = re.compile(r"^\s*(?:#|\||```|~~~|<|>|[-*+•]\s|\d{1,3}[.)]\s|[\w ]{1,24}:\s)")
URL_END = re.compile(r"https?://\S+$")
CLOSING = frozenset(".!?。！？…\"'”’»)]}>`*_~:;") | frozenset("😀🙂😊👍")
# Minimum words in an answer before a missing full stop counts as a sign of truncation.
MIN_PROSE_WORDS = 40
MIN_DANGLING_WORDS = 12


def json_unfinished(text: str) -> bool:
    if text[0] not in "{[":
        return False
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        return text.count("{") + text.count("[") > text.count("}") + text.count("]")
    return False


def truncation_score(text: str) -> tuple[float, str] | None:
    stripped = text.rstrip()
    if not stripped:
        return None
    if open_fence(stripped):
        return 0.95, "the answer ends inside an unclosed code block"
    if json_unfinished(stripped):
        return 0.9, "the answer is JSON that is cut off (unbalanced brackets)"
    last_line = stripped.rsplit("\n", 1)[-1].strip()
    item = LIST_ITEM.match(last_line)
    if item is not None and not item.group(1).strip():
        return 0.9, "the answer ends with an empty list item"
    last = stripped[-1]
    if last in ",-–—(" and not CODE_TAIL.search(last_line.rstrip(",-–—(") + "x"):
        return 0.8, f"the answer ends with '{last}'"
    if last == ":" and len(words(stripped)) >= MIN_PROSE_WORDS:
        return 0.7, "the answer ends with ':' and nothing after it"
    if last in CLOSING or not (last.isalnum()):
        return None
    if URL_END.search(last_line) or STRUCTURED_LINE.match(last_line):
        return None
    tokens = words(stripped)
    tail = words(last_line)
    # "... and the" cannot end a sentence; a short answer may still be a title or a name.
    if len(tokens) >= MIN_DANGLING_WORDS and tail and tail[-1] in DANGLING_WORDS:
        return 0.85, f"the answer stops mid-sentence after '{tail[-1]}'"
    if len(tokens) < MIN_PROSE_WORDS:
        return None
    if len(tail) >= 6 and not verse(stripped):
        # Under the drop threshold: people often end a text without a full stop (LIMA's answers
        # do); it still lowers `quality`.
        return 0.45, "the answer's last sentence has no closing punctuation"
    return None


def verse(text: str) -> bool:
    """Poems, lyrics and line-per-item text end lines without punctuation by design."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    bare = sum(1 for line in lines if line[-1].isalnum())
    return len(lines) >= 4 and bare / len(lines) >= 0.5


@record_check(
    "truncated_response",
    description="the answer stops mid-sentence, mid-code-block or mid-list",
    action="drop",
)
def truncated_response(record: Record, settings: object) -> Score | None:
    if record.format == "text_label":
        return None
    for index in range(len(record.turns) - 1, -1, -1):
        if record.turns[index].role.value == "assistant":
            found = truncation_score(record.turns[index].content)
            return None if found is None else Score(found[0], found[1], turn=index)
    return None
