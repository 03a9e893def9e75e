"""`language_mismatch`: the answer is in another language than the prompt it answers.

Offline language identification with `py3langid` (its model ships inside the package). Only
confident calls count: both sides need enough letters (code removed) and a probability of at
least `min_confidence`. Prompts that ask for another language (translation, "answer in French",
any language named in the prompt) are expected to mismatch and are skipped.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

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
LETTERS = re.compile(r"[^\W\d_]", re.UNICODE)
# Language id cost grows with length; the first few hundred characters decide it.
SAMPLE_CHARS = 600
# Text where this share of the words are English function words is English: identifying it costs
# ~1 ms a call, so two plainly English sides skip the model (most records of most sets).
ENGLISH_STOPWORD_SHARE = 0.25


def plainly_english(text: str) -> bool:
    tokens = text[:SAMPLE_CHARS].lower().split()
    return len(tokens) >= 8 and sum(t.strip(".,;:!?\"'()") in STOPWORDS for t in tokens) / len(tokens) >= (
        ENGLISH_STOPWORD_SHARE
    )


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
        self._identifier: Any = None

    @property
    def identifier(self) -> Any:
        """The model, loaded on first use (1.5 s): plainly English sets never need it."""
        if self._identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        return self._identifier

    def identify(self, text: str) -> tuple[str, float] | None:
        prose = without_code(text)
        if len(LETTERS.findall(prose[:SAMPLE_CHARS])) < self.settings.min_letters:
            return None
        lang, prob = self.identifier.classify(prose[:SAMPLE_CHARS])
        return (str(lang), float(prob)) if prob >= self.settings.min_confidence else None

    def __call__(self, record: Record) -> Score | None:
        prompt = record.last_prompt
        if not prompt or ASKS_FOR_LANGUAGE.search(prompt):
            return None
        answer_index = next(
            (i for i in range(len(record.turns) - 1, -1, -1) if record.turns[i].role is Role.ASSISTANT), None
        )
        if answer_index is None:
            return None
        answer = record.turns[answer_index].content
        if plainly_english(prompt) and plainly_english(without_code(answer)):
            return None
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
