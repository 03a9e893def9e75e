"""The speed work on the per-record checks changed no result.

`tests/data/checks/findings.jsonl.gz` holds every finding of the default per-record checks on the
real samples bundled in `tests/data/real/` plus `tests/data/checks/multilingual.jsonl` (answers in
other languages, so the language identifier really runs), written by the checks as they were
before the speed work (regenerate with `python -m tests.checks.test_checks_unchanged` only when a
check's behaviour is meant to change). Each check's message and turn must be equal, and its score
equal to float32 precision.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from curata.checks.columns import message_column, score_column, turn_column
from curata.checks.langid_batch import load_identifier
from curata.checks.language import ASKS_FOR_LANGUAGE, LETTERS, asks_for_language, letter_count
from curata.checks.text import WORD, words
from curata.ingest import IngestOptions, ingest
from curata.inputs import discover
from curata.records import records_from_batch
from curata.stages.checks import Checks, ChecksSettings

DATA = Path(__file__).resolve().parents[1] / "data"
GOLDEN = DATA / "checks" / "findings.jsonl.gz"
SAMPLES = (
    "real/lima.json",
    "real/gsm8k_first1500.jsonl",
    "real/dpo_en_demo.json",
    "real/kto_en_demo.json",
    "real/glaive_toolcall_en_demo.json",
    "real/toolformer.json",
    "real/imdb_subset.jsonl",
    "checks/multilingual.jsonl",
)


def sample_batches() -> list[pa.RecordBatch]:
    batches: list[pa.RecordBatch] = []
    # Small batches: records of one file meet the per-batch `prepare` in several batches.
    ingest(discover([str(DATA / s) for s in SAMPLES]), IngestOptions(batch_rows=700), batches.append, print)
    return batches


def findings() -> list[dict[str, Any]]:
    stage = Checks(ChecksSettings())
    stage.setup()
    out: list[dict[str, Any]] = []
    for batch in sample_batches():
        table = pa.Table.from_batches([batch])
        columns = stage.process(table)
        ids = table.column("id").to_pylist()
        for code in stage.checks:
            scores = columns[score_column(code)].to_pylist()
            messages = columns[message_column(code)].to_pylist()
            turns = columns[turn_column(code)].to_pylist()
            for rid, score, message, turn in zip(ids, scores, messages, turns, strict=True):
                if message is not None or score != 0.0:
                    out.append({"id": rid, "check": code, "score": score, "message": message, "turn": turn})
    return out


def test_checks_give_the_findings_they_gave_before_the_speed_work() -> None:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as handle:
        expected = [json.loads(line) for line in handle]
    found = findings()
    assert {f["check"] for f in expected} >= {"language_mismatch", "truncated_response", "contamination"}

    def without_score(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in row.items() if k != "score"} for row in rows]

    assert without_score(found) == without_score(expected)
    # Scores to float32 precision: the language identifier's probabilities move in the 7th digit
    # between numpy builds (0.99629325 vs 0.99629337), which is not a change of behaviour.
    got, want = (np.array([row["score"] for row in rows], dtype=np.float64) for rows in (found, expected))
    assert np.allclose(got, want, rtol=1e-5, atol=1e-6), np.flatnonzero(~np.isclose(got, want, 1e-5, 1e-6))


def real_texts() -> list[str]:
    texts: list[str] = []
    for batch in sample_batches():
        for record in records_from_batch(batch):
            texts += [turn.content[:600] for turn in record.turns]
    texts = [t for t in texts if t.strip()]
    # Every non-ASCII text and a quarter of the rest: the library's own walk is the slow part.
    return [t for i, t in enumerate(texts) if i % 4 == 0 or not t.isascii()]


def test_batch_language_walk_scores_bit_for_bit_like_py3langid() -> None:
    texts = real_texts()
    plain = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    batch = load_identifier()
    batch.prepare(texts)
    assert len(batch.prepared) > 1000
    assert any(not t.isascii() for t in texts)
    for text in texts:
        assert np.array_equal(batch._decide(text), plain._decide(text)), text[:80]
    # Unprepared texts (and an empty one) take the library's own walk.
    batch.prepare([])
    assert batch.classify(texts[0]) == plain.classify(texts[0])
    assert batch.classify("") == plain.classify("")


@pytest.mark.parametrize(
    "prompt",
    [
        "Translate this sentence",
        "Answer in FRENCH please",
        "Which language is this?",
        "polished furniture and Englishmen",
        "the Kelvin scale: 300 K",
        "Answer in ſwedish",  # long s: case-folds to 's' in a regex, not in lower()
        "ſpanish or english?",
        "Übersetze bitte ins Deutsche",
        "請翻译这句话",
        "Tradução para o português",
        "Dutch-born painter; a latin-american dance",
        "no language named here",
        "",
    ],
)
def test_ascii_fast_paths_agree_with_the_unicode_patterns(prompt: str) -> None:
    assert asks_for_language(prompt) == (ASKS_FOR_LANGUAGE.search(prompt) is not None)
    assert letter_count(prompt) == len(LETTERS.findall(prompt))
    assert words(prompt) == WORD.findall(prompt.lower())


def test_ascii_word_split_agrees_with_the_word_pattern_on_real_text() -> None:
    texts = real_texts()
    texts.append("".join(map(chr, range(128))) + " snake_case x1 A-b\tc\x0bd\x1ce")
    assert sum(t.isascii() for t in texts) > 500
    for text in texts:
        assert words(text) == WORD.findall(text.lower())


def write_golden() -> None:
    with gzip.open(GOLDEN, "wt", encoding="utf-8") as handle:
        for finding in findings():
            handle.write(json.dumps(finding, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    write_golden()
    sys.exit(0)
