"""A custom per-record check: answers written mostly in capital letters.

Use it with `CURATA_PLUGINS=examples/custom_check.py curata run data.jsonl -o out`; the code
`shouting` then appears in `curata checks`, gets a column in signals.parquet, and can be given an
action in the recipe (`decide: {actions: {shouting: drop}}`).
"""

from pydantic import BaseModel

from curata.checks import Score, record_check
from curata.records import Record


class ShoutingSettings(BaseModel):
    min_letters: int = 20


@record_check(
    "shouting",
    description="the answer is mostly capital letters",
    action="flag",
    threshold=0.7,
    settings=ShoutingSettings,
)
def shouting(record: Record, settings: ShoutingSettings) -> Score | None:
    letters = [c for c in record.last_response if c.isalpha()]
    if len(letters) < settings.min_letters:
        return None
    share = sum(c.isupper() for c in letters) / len(letters)
    return Score(share, f"{share:.0%} of the answer's letters are capitals")
