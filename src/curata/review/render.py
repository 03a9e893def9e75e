"""Showing untrusted dataset text safely: markdown with raw HTML disabled (so `<script>` and
`onerror=` stay text), links limited to safe schemes, no remote images; and word-level diffs."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

SAFE_LINK = re.compile(r"^(https?:|mailto:|#|/(?!/))", re.IGNORECASE)
TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)
MAX_DIFF_TOKENS = 20_000


def safe_link(url: str) -> bool:
    return bool(SAFE_LINK.match(url.strip()))


def make_markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.disable("image")
    # markdown-it already refuses javascript:, vbscript:, file: and data: links; be stricter.
    md.validateLink = safe_link  # type: ignore[method-assign]

    def link_open(self: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
        return str(self.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    return md


MARKDOWN = make_markdown()


def markdown(text: str) -> Markup:
    """Markdown to HTML; raw HTML in the text is shown as text, never interpreted."""
    return Markup(MARKDOWN.render(text))


@dataclass(frozen=True)
class Piece:
    kind: str  # "same", "del" or "ins"
    text: str


def word_diff(left: str, right: str) -> tuple[list[Piece], list[Piece]]:
    """Left and right texts cut into pieces marked same / deleted / inserted (word level)."""
    a, b = TOKEN.findall(left), TOKEN.findall(right)
    if len(a) + len(b) > MAX_DIFF_TOKENS:
        a, b = left.splitlines(keepends=True), right.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    out_a: list[Piece] = []
    out_b: list[Piece] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out_a.append(Piece("same", "".join(a[i1:i2])))
            out_b.append(Piece("same", "".join(b[j1:j2])))
            continue
        if i2 > i1:
            out_a.append(Piece("del", "".join(a[i1:i2])))
        if j2 > j1:
            out_b.append(Piece("ins", "".join(b[j1:j2])))
    return out_a, out_b


def pieces_html(pieces: list[Piece]) -> Markup:
    parts = []
    for piece in pieces:
        text = escape(piece.text)
        parts.append(text if piece.kind == "same" else Markup(f'<mark class="{piece.kind}">{text}</mark>'))
    return Markup("").join(parts)
