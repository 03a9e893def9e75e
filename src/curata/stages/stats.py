"""Per-record size signals: turns, characters and tokens on each side.

Tokens are estimated as UTF-8 bytes / 4 (the usual rule of thumb for BPE tokenizers on English,
and closer than characters / 4 for scripts with multi-byte characters) unless a local tokenizer
path is given, in which case they are exact for that tokenizer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
from pydantic import field_validator

from curata.records import side_texts
from curata.stages.base import RowStage, StageSettings
from curata.stages.registry import register_stage


class StatsSettings(StageSettings):
    tokenizer: str | None = None

    @field_validator("tokenizer")
    @classmethod
    def tokenizer_exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).exists():
            raise ValueError(
                f"tokenizer path '{value}' does not exist (give a local tokenizer folder or file)"
            )
        return value


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8")) / 4)


def load_token_counter(path: str) -> Callable[[str], int]:
    from tokenizers import Tokenizer

    file = Path(path)
    tokenizer = Tokenizer.from_file(str(file / "tokenizer.json" if file.is_dir() else file))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


@register_stage
class Stats(RowStage):
    name = "stats"
    description = "turn, character and token counts of the prompt and response sides"
    Settings = StatsSettings
    settings: StatsSettings

    def reads(self) -> frozenset[str]:
        return frozenset({"turns"})

    def writes(self) -> dict[str, pa.DataType]:
        return {
            "n_turns": pa.int32(),
            "prompt_chars": pa.int64(),
            "response_chars": pa.int64(),
            "prompt_tokens": pa.int64(),
            "response_tokens": pa.int64(),
        }

    def setup(self) -> None:
        self.count_tokens = (
            load_token_counter(self.settings.tokenizer) if self.settings.tokenizer else estimate_tokens
        )

    def process(self, batch: pa.Table) -> dict[str, pa.Array]:
        prompts = side_texts(batch, "prompt")
        responses = side_texts(batch, "response")
        return {
            "n_turns": pa.compute.list_value_length(batch.column("turns")).cast(pa.int32()),
            "prompt_chars": pa.array([len(t) for t in prompts], pa.int64()),
            "response_chars": pa.array([len(t) for t in responses], pa.int64()),
            "prompt_tokens": pa.array([self.count_tokens(t) for t in prompts], pa.int64()),
            "response_tokens": pa.array([self.count_tokens(t) for t in responses], pa.int64()),
        }
