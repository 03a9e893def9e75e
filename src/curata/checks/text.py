"""Text helpers shared by the checks: words, code spans and quoted spans, all with precompiled
patterns, because the checks run over every record of large sets."""

from __future__ import annotations

import re

WORD = re.compile(r"\w+")
# A fence is a line of its own (CommonMark: no backtick in the info string), so "```foo``` is"
# in running text is inline code, as some writers (and LIMA's StackExchange answers) use it.
FENCE = re.compile(r"^[ \t]*(?:```|~~~)[^`\n]*$", re.MULTILINE)
FENCE_LINE = re.compile(r"^[ \t]*(?:```|~~~)([^`\n]*)$", re.MULTILINE)
CODE_BLOCK = re.compile(r"^[ \t]*(```|~~~)[^`\n]*\n.*?(?:^[ \t]*\1[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)
INLINE_CODE = re.compile(r"```[^`\n]+```|`[^`\n]+`")
# Quoted speech and quotations: "...", “...”, «...», and Markdown block quotes.
QUOTED = re.compile(
    r"\"[^\"\n]{0,600}\"|“[^”]{0,600}”|«[^»]{0,600}»|„[^“”]{0,600}[“”]|^[ \t]*>.*$", re.MULTILINE
)
SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")

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


# In ASCII text a word character is a letter, a digit or '_': every other character becomes a space.
_ASCII_NON_WORD_TO_SPACE = str.maketrans({c: " " for c in range(128) if not (chr(c).isalnum() or c == 95)})


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters, digits, underscore; any script)."""
    if text.isascii():
        # The same tokens as the regex, a third faster: translate and split run in C.
        return text.lower().translate(_ASCII_NON_WORD_TO_SPACE).split()
    return WORD.findall(text.lower())


def without_code(text: str) -> str:
    """The text with fenced code blocks and inline code removed (an unclosed fence runs to the end)."""
    if "`" not in text and "~~~" not in text:
        return text
    return INLINE_CODE.sub(" ", CODE_BLOCK.sub("\n", text))


def without_quotes(text: str) -> str:
    """The text with quoted speech and block quotes removed: what the author says, not whom they quote."""
    if not any(q in text for q in '"“«„>'):
        return text
    return QUOTED.sub(" ", text)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


CODE_TAIL = re.compile(r"[{}()\[\];=,\\+\-*/<>|&]\s*$")


def open_fence(text: str) -> bool:
    """True when a fenced code block is opened and never closed: an odd number of fences, and
    either the last one names a language (an opener) or the text still ends like code."""
    fences = FENCE_LINE.findall(text)
    if len(fences) % 2 == 0 or text.rstrip().endswith(("```", "~~~")):
        return False
    last_line = text.rstrip().rsplit("\n", 1)[-1]
    return bool(fences[-1].strip()) or bool(CODE_TAIL.search(last_line))


def content_words(text: str) -> list[str]:
    # A 6-letter prefix is a cheap stemmer: "running"/"runner" stay apart, "explain"/"explains" meet.
    return [w[:6] for w in words(text) if len(w) > 2 and w not in STOPWORDS]


def content_word_set(text: str) -> set[str]:
    """`set(content_words(text))`, filtering each distinct word once instead of every occurrence."""
    return {w[:6] for w in set(words(text)) - STOPWORDS if len(w) > 2}
