"""`language_mismatch`: the answer is in another language than the prompt it answers.

Offline language identification with `py3langid` (its model ships inside the package). Only
confident calls count: both sides need enough letters (code removed) and a probability of at
least `min_confidence`. Prompts that ask for another language (translation, "answer in French",
any language named in the prompt) are expected to mismatch and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import repeat

from pydantic import BaseModel, ConfigDict

from curata.checks.langid_batch import BatchLanguageIdentifier, load_identifier
from curata.checks.registry import Score, record_check
from curata.checks.text import STOPWORDS, without_code
from curata.records import Record, Role

LANGUAGE_NAMES = (
    "english|french|spanish|german|italian|portuguese|dutch|russian|chinese|mandarin|cantonese|japanese|"
    "korean|arabic|hindi|bengali|urdu|turkish|polish|czech|slovak|swedish|norwegian|danish|finnish|greek|"
    "hebrew|persian|farsi|thai|vietnamese|indonesian|malay|tagalog|filipino|swahili|ukrainian|romanian|"
    "hungarian|bulgarian|serbian|croatian|catalan|latin|telugu|tamil|marathi|gujarati|punjabi|kannada|"
    "malayalam|nepali|sinhala|amharic|yoruba|zulu|esperanto"
)
ASKS_FOR_LANGUAGE = re.compile(
    rf"translat|\b(?:{LANGUAGE_NAMES})\b|language|翻译|übersetz|tradu", re.IGNORECASE
)
# The same pattern without IGNORECASE, for lower-cased ASCII text: 4x faster, and equal there
# (case folding differs from lower() only for non-ASCII letters such as 'ſ' or the Kelvin sign).
ASKS_FOR_LANGUAGE_LOWER_ASCII = re.compile(rf"translat|\b(?:{LANGUAGE_NAMES})\b|language|tradu")
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
# In ASCII text LETTERS matches exactly A-Z and a-z: delete every other byte and count what is left.
_ASCII_NON_LETTERS = bytes(c for c in range(128) if not chr(c).isalpha())
Sides = tuple[str, str, int]
# Language id cost grows with length; the first few hundred characters decide it.
SAMPLE_CHARS = 600
# Text where this share of the words are English function words is English: identifying it costs
# far more, so two plainly English sides skip the model (most records of most sets).
ENGLISH_STOPWORD_SHARE = 0.25
_PUNCTUATION = ".,;:!?\"'()"


def letter_count(text: str) -> int:
    if text.isascii():
        return len(text.encode("ascii").translate(None, _ASCII_NON_LETTERS))
    return len(LETTERS.findall(text))


def asks_for_language(prompt: str) -> bool:
    if prompt.isascii():
        return ASKS_FOR_LANGUAGE_LOWER_ASCII.search(prompt.lower()) is not None
    return ASKS_FOR_LANGUAGE.search(prompt) is not None


def plainly_english(text: str) -> bool:
    tokens = text[:SAMPLE_CHARS].lower().split()
    if len(tokens) < 8:
        return False
    # map() keeps the loop in C: this runs on both sides of nearly every record.
    stopwords = sum(map(STOPWORDS.__contains__, map(str.strip, tokens, repeat(_PUNCTUATION))))
    return stopwords / len(tokens) >= ENGLISH_STOPWORD_SHARE


class LanguageSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Probability the identifier must give both sides before a mismatch is reported.
    min_confidence: float = 0.9
    # Letters (code removed) each side needs before it is identified at all.
    min_letters: int = 30


@record_check(
    "language_mismatch",
    description="answer language differs from the prompt's",
    action="flag",
    settings=LanguageSettings,
)
class LanguageMismatch:
    def __init__(self, settings: LanguageSettings) -> None:
        self.settings = settings
        self._identifier: BatchLanguageIdentifier | None = None
        # What `prepare` found per record of the current batch (the record kept, so ids stay unique).
        self._sides: dict[int, tuple[Record, Sides | None]] = {}

    @property
    def identifier(self) -> BatchLanguageIdentifier:
        """The model, loaded on first use (1.5 s): plainly English sets never need it."""
        if self._identifier is None:
            self._identifier = load_identifier()
        return self._identifier

    def sample(self, text: str) -> str | None:
        """What the identifier reads of a text, or None when it has too few letters to judge."""
        prose = without_code(text)[:SAMPLE_CHARS]
        return prose if letter_count(prose) >= self.settings.min_letters else None

    def identify(self, text: str) -> tuple[str, float] | None:
        sample = self.sample(text)
        if sample is None:
            return None
        lang, prob = self.identifier.classify(sample)
        return (str(lang), float(prob)) if prob >= self.settings.min_confidence else None

    def sides(self, record: Record) -> Sides | None:
        """The prompt, the answer and its turn, when the record needs identifying at all."""
        prompt = record.last_prompt
        if not prompt:
            return None
        answer_index = next(
            (i for i in range(len(record.turns) - 1, -1, -1) if record.turns[i].role is Role.ASSISTANT), None
        )
        if answer_index is None:
            return None
        answer = record.turns[answer_index].content
        # Cheapest test first: every early return gives None, so their order does not change the
        # result, and the language-name search (a long alternation) was a quarter of the time.
        if plainly_english(prompt) and plainly_english(without_code(answer)):
            return None
        if asks_for_language(prompt):
            return None
        return prompt, answer, answer_index

    def prepare(self, records: Sequence[Record]) -> None:
        """Run the identifier's byte walk for the whole batch at once (see `langid_batch`)."""
        self._sides = {id(r): (r, self.sides(r)) for r in records}
        samples = [
            sample
            for _, found in self._sides.values()
            if found is not None
            for sample in (self.sample(found[0]), self.sample(found[1]))
            if sample is not None
        ]
        if samples:
            self.identifier.prepare(samples)

    def __call__(self, record: Record) -> Score | None:
        prepared = self._sides.pop(id(record), None)
        found = prepared[1] if prepared is not None and prepared[0] is record else self.sides(record)
        if found is None:
            return None
        prompt, answer, answer_index = found
        asked = self.identify(prompt)
        if asked is None:
            return None
        answered = self.identify(answer)
        if answered is None or answered[0] == asked[0]:
            return None
        return Score(
            min(asked[1], answered[1]),
            f"prompt in '{asked[0]}' ({asked[1]:.2f}), answer in '{answered[0]}' ({answered[1]:.2f})",
            turn=answer_index,
        )
