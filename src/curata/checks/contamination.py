"""`contamination`: a record's prompt repeats a known benchmark item, verbatim or lightly edited.

An n-gram overlap index over benchmark prompts: each item is a set of hashed word n-grams (lower
case, punctuation dropped). A record is compared with the items that share a rare n-gram with its
prompt, and scored by containment: the share of the item's n-grams found in the prompt (so a
benchmark question pasted inside a longer prompt still scores 1.0). Two views, the highest wins:
- `ngram` (8) word n-grams: long verbatim spans;
- `loose_ngram` (3) word n-grams, times the share of the item's content words (stop words
  dropped) in the prompt: survives light edits (10% of words changed keeps ~70% of 3-grams and
  ~90% of content words) but not a shared phrasing about another topic.

Bundled items: MT-bench and Vicuna-bench questions (see `curata/data/benchmarks/README.md`).
Users add their own eval sets with `curata run --decontaminate-against FILE...` or the recipe's
`checks.settings.contamination.files`; any input format curata reads works, and JSONL files in
the FastChat question format (`{"question_id", "turns": [...]}`) too.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from importlib import resources
from itertools import islice
from pathlib import Path

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from curata.checks.registry import Score, record_check
from curata.checks.text import content_word_set, words
from curata.errors import InputError
from curata.records import Record

BUNDLED = {"mt_bench": "MT-bench", "vicuna_bench": "Vicuna-bench"}
# An n-gram shared by more items than this says nothing about which item matches.
MAX_ITEMS_PER_GRAM = 50
EXCERPT = 80


@dataclass(frozen=True)
class BenchmarkItem:
    id: str
    text: str


class ContaminationSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    benchmarks: list[str] = Field(default_factory=lambda: list(BUNDLED))
    files: list[str] = Field(default_factory=list)
    ngram: int = Field(8, ge=2)
    loose_ngram: int = Field(3, ge=1)
    # Items shorter than this many words are too generic to match on.
    min_item_words: int = Field(5, ge=1)
    # Index every turn of multi-turn benchmark items, not only the first (follow-ups are generic).
    all_turns: bool = False

    @field_validator("benchmarks")
    @classmethod
    def known_benchmarks(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in BUNDLED:
                raise ValueError(f"unknown bundled benchmark '{name}' (known: {', '.join(BUNDLED)})")
        return value

    @field_validator("files")
    @classmethod
    def files_exist(cls, value: list[str]) -> list[str]:
        for path in value:
            if not Path(path).exists():
                raise ValueError(f"eval set '{path}' does not exist")
        return value


def fastchat_items(lines: list[bytes], name: str, all_turns: bool) -> list[BenchmarkItem]:
    items: list[BenchmarkItem] = []
    for line in lines:
        if not line.strip():
            continue
        obj = orjson.loads(line)
        turns = obj["turns"] if all_turns else obj["turns"][:1]
        for t, text in enumerate(turns):
            suffix = f"/turn{t + 1}" if t else ""
            items.append(BenchmarkItem(f"{name}#{obj['question_id']}{suffix}", str(text)))
    return items


def bundled_items(name: str, all_turns: bool) -> list[BenchmarkItem]:
    data = resources.files("curata").joinpath("data", "benchmarks", f"{name}.jsonl").read_bytes()
    return fastchat_items(data.splitlines(), BUNDLED[name], all_turns)


def file_items(path: str, all_turns: bool) -> list[BenchmarkItem]:
    """The prompts of a user's eval set, read like any curata input."""
    from curata.ingest import choose_format
    from curata.inputs import discover, read_items

    items: list[BenchmarkItem] = []
    for source in discover([path]):
        stream = read_items(source)
        sample = list(islice(stream, 50))
        objects = [item.obj for item in sample if item.obj is not None]
        if objects and all(isinstance(o.get("turns"), list) and "question_id" in o for o in objects):
            lines = [orjson.dumps(item.obj) for item in [*sample, *stream] if item.obj is not None]
            items.extend(fastchat_items(lines, source.path.name, all_turns))
            continue
        fmt = choose_format(source, sample, None)
        if fmt is None:
            raise InputError("no records in eval set", path=source.display)
        for position, item in enumerate([*sample, *stream]):
            if item.obj is None:
                continue
            turns, _ = fmt.parse(item.obj)
            prompt = "\n\n".join(t.content for t in turns if t.role.value in ("user", "system"))
            rid = item.obj.get("id", position)
            items.append(BenchmarkItem(f"{source.path.name}#{rid}", prompt))
    return items


def shingles(tokens: list[str], n: int) -> set[int]:
    """Hashed word n-grams: the hashes of token tuples, built in C (3x faster than hashing joined
    strings). Python's string hash differs between processes, but each worker hashes its index and
    its prompts alike, and a match depends only on which n-grams are equal, so runs are reproducible."""
    if len(tokens) < n:
        return {hash(tuple(tokens))} if tokens else set()
    return set(map(hash, zip(*(tokens[i:] for i in range(n)), strict=False)))


class NgramIndex:
    """Benchmark items as n-gram sets, with an inverted index from rare n-grams to items."""

    def __init__(self, items: list[BenchmarkItem], ngram: int, loose: int, min_words: int) -> None:
        self.ngram, self.loose = ngram, loose
        self.items: list[BenchmarkItem] = []
        self.strict: list[set[int]] = []
        self.loose_sets: list[set[int]] = []
        self.content: list[set[str]] = []
        postings: dict[int, list[int]] = {}
        for item in items:
            tokens = words(item.text)
            if len(tokens) < min_words:
                continue
            index = len(self.items)
            self.items.append(item)
            self.strict.append(shingles(tokens, ngram))
            grams = shingles(tokens, loose)
            self.loose_sets.append(grams)
            self.content.append(content_word_set(item.text))
            for gram in grams:
                postings.setdefault(gram, []).append(index)
        self.postings = {g: ids for g, ids in postings.items() if len(ids) <= MAX_ITEMS_PER_GRAM}
        self.indexed = frozenset(self.postings)

    def best_match(self, text: str) -> tuple[float, BenchmarkItem] | None:
        tokens = words(text)
        if not tokens:
            return None
        grams = shingles(tokens, self.loose)
        candidates: Counter[int] = Counter()
        # Most of a prompt's n-grams are in no benchmark item: intersect in C, then look up the rest.
        for gram in grams & self.indexed:
            for index in self.postings[gram]:
                candidates[index] += 1
        best: tuple[float, BenchmarkItem] | None = None
        strict: set[int] | None = None
        said: set[str] | None = None
        # Most shared n-grams first, then item order: the same answer whatever the set order.
        for index in sorted(candidates, key=lambda i: (-candidates[i], i))[:10]:
            loose = len(self.loose_sets[index] & grams) / len(self.loose_sets[index])
            if loose < 0.2:
                continue
            if strict is None or said is None:
                strict = shingles(tokens, self.ngram)
                said = content_word_set(text)
            exact = len(self.strict[index] & strict) / len(self.strict[index])
            # Shared phrasing alone ("how can I improve my ... skills") is not the same question:
            # the loose view also needs the item's content words.
            topic = len(self.content[index] & said) / max(len(self.content[index]), 1)
            score = max(loose * topic, exact)
            if best is None or score > best[0]:
                best = (score, self.items[index])
        return best


@record_check(
    "contamination",
    description="overlaps a known benchmark item (n-gram overlap)",
    action="drop",
    settings=ContaminationSettings,
)
class Contamination:
    def __init__(self, settings: ContaminationSettings) -> None:
        items = [i for name in settings.benchmarks for i in bundled_items(name, settings.all_turns)]
        items += [i for path in settings.files for i in file_items(path, settings.all_turns)]
        self.index = NgramIndex(items, settings.ngram, settings.loose_ngram, settings.min_item_words)

    def __call__(self, record: Record) -> Score | None:
        found = self.index.best_match(record.prompt_text)
        if found is None:
            return None
        score, item = found
        excerpt = item.text if len(item.text) <= EXCERPT else item.text[:EXCERPT] + "…"
        return Score(score, f"prompt overlaps {item.id} ({score:.0%} of its n-grams): '{excerpt}'")
