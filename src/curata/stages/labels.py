"""Classification checks over the whole set: `class_imbalance` (a dataset-level finding naming the
classes and their shares) and `label_error` (per record, by confident learning).

Records with a label are classified from their whole text (for `text_label` data, the text). The
label_error score is 1 - p(given label) out of sample, placed so that it reaches 0.5 exactly when
cleanlab calls the label an issue: the flag is cleanlab's decision, the score its strength.
Instruction data without labels gets a positive/negative balance of its yes/no-style answers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
from pydantic import Field

from curata.checks.columns import check_column_types, message_column, score_column
from curata.checks.label_errors import find_issues, out_of_sample_probabilities, tfidf_features
from curata.checks.registry import declare_check
from curata.records import side_texts
from curata.stages.base import (
    DatasetResult,
    DatasetStage,
    DatasetView,
    Finding,
    ProgressCallback,
    StageSettings,
)
from curata.stages.formats import last_turns
from curata.stages.registry import register_stage

CODE = "label_error"
declare_check(CODE, description="the label is probably wrong (classification data)", action="flag")
declare_check("class_imbalance", description="dataset-level: a class is over- or under-represented")
EMBEDDING = "embedding"
# Single-word answers of binary tasks, as the positive or the negative side.
BINARY_ANSWERS = {
    **dict.fromkeys(("yes", "true", "positive", "correct", "entailment"), "positive"),
    **dict.fromkeys(("no", "false", "negative", "incorrect", "not_entailment", "contradiction"), "negative"),
}


class LabelSettings(StageSettings):
    # tfidf, embedding (the `embed` stage's column), or auto: embedding when present.
    features: Literal["auto", "tfidf", "embedding"] = "auto"
    folds: int = Field(5, ge=2)
    c: float = Field(1.0, gt=0)
    max_features: int = Field(100_000, ge=100)
    filter_by: Literal["prune_by_noise_rate", "prune_by_class", "both", "confident_learning"] = (
        "prune_by_noise_rate"
    )
    # Classes with fewer records than this are left out of the label-error model.
    min_per_class: int = Field(10, ge=2)
    # class_imbalance when the largest class outnumbers the smallest this many times...
    imbalance_ratio: float = Field(3.0, gt=1.0)
    # ... or a class holds less than this share of the labelled records.
    min_share: float = Field(0.05, ge=0.0, lt=1.0)
    # Records with labels before label errors are looked for at all.
    min_records: int = Field(50, ge=2)
    # Label errors are only reported when the classifier removes at least this share of the errors
    # of always guessing the largest class: labels the text cannot predict (e.g. KTO's good/bad
    # answer labels) say nothing about which labels are wrong.
    min_error_reduction: float = Field(0.2, ge=0.0, le=1.0)


def imbalance_finding(counts: Counter[str], settings: LabelSettings, what: str) -> Finding | None:
    total = sum(counts.values())
    if len(counts) < 2 or total == 0:
        return None
    ranked = counts.most_common()
    largest, smallest = ranked[0][1], ranked[-1][1]
    shares = {label: n / total for label, n in ranked}
    rare = [label for label, share in shares.items() if share < settings.min_share]
    ratio = largest / max(smallest, 1)
    if ratio < settings.imbalance_ratio and not rare:
        return None
    listed = ", ".join(f"{label} {share:.1%} ({counts[label]:,})" for label, share in shares.items())
    return Finding(
        check="class_imbalance",
        severity="warning",
        message=f"{what}: {listed}; the largest is {ratio:.1f}x the smallest",
        score=min(1.0, 1 - 1 / ratio),
        extra={"classes": {label: counts[label] for label, _ in ranked}, "ratio": round(ratio, 3)},
    )


@register_stage
class Labels(DatasetStage):
    name = "labels"
    description = "class imbalance and label errors (cross-validated classifier + cleanlab)"
    Settings = LabelSettings
    settings: LabelSettings
    use_embedding: bool = False

    def bind(self, available: Mapping[str, pa.DataType], codes: Sequence[str]) -> None:
        if self.settings.features == "embedding" and EMBEDDING not in available:
            raise ValueError("features: embedding needs the 'embed' stage before 'labels'")
        self.use_embedding = self.settings.features != "tfidf" and EMBEDDING in available

    def reads(self) -> frozenset[str]:
        return frozenset({"label", "turns", *([EMBEDDING] if self.use_embedding else [])})

    def writes(self) -> dict[str, pa.DataType]:
        return {**check_column_types(CODE), "label_suggestion": pa.string()}

    def check_codes(self) -> tuple[str, ...]:
        return (CODE,)

    def analyse(self, data: DatasetView, progress: ProgressCallback) -> DatasetResult:
        n = data.n_rows
        labels = data.column("label").to_pylist()
        labelled = np.array([i for i, label in enumerate(labels) if label is not None], dtype=np.int64)
        counts = Counter(labels[i] for i in labelled)
        findings: list[Finding] = []
        summary: dict[str, object] = {"labelled": len(labelled), "classes": dict(counts.most_common())}
        found = imbalance_finding(counts, self.settings, "classes")
        if found is not None:
            findings.append(found)
        if not len(labelled):
            answers = self.binary_answers(data)
            summary["binary_answers"] = dict(answers.most_common())
            if sum(answers.values()) >= self.settings.min_records:
                found = imbalance_finding(answers, self.settings, "positive/negative answers of binary tasks")
                if found is not None:
                    findings.append(found)
        scores = np.zeros(n, dtype=np.float32)
        messages: list[str | None] = [None] * n
        suggestions: list[str | None] = [None] * n
        classes = sorted(c for c, k in counts.items() if k >= self.settings.min_per_class)
        rows = np.array([i for i in labelled if labels[i] in set(classes)], dtype=np.int64)
        if len(classes) >= 2 and len(rows) >= self.settings.min_records:
            summary["label_error"] = self.label_errors(
                data, rows, labels, classes, scores, messages, suggestions
            )
        progress(n)
        return DatasetResult(
            columns={
                score_column(CODE): pa.array(scores),
                message_column(CODE): pa.array(messages, pa.string()),
                "label_suggestion": pa.array(suggestions, pa.string()),
            },
            findings=findings,
            summary=summary,
        )

    def label_errors(
        self,
        data: DatasetView,
        rows: np.ndarray,
        labels: list[str | None],
        classes: list[str],
        scores: np.ndarray,
        messages: list[str | None],
        suggestions: list[str | None],
    ) -> dict[str, object]:
        index = {c: k for k, c in enumerate(classes)}
        y = np.array([index[str(labels[i])] for i in rows], dtype=np.int64)
        if self.use_embedding:
            features: object = np.stack(data.take(rows, [EMBEDDING]).column(0).to_numpy(zero_copy_only=False))
        else:
            texts = side_texts(data.take(rows, ["turns"]), "conversation")
            features = tfidf_features(texts, self.settings.max_features)
        folds = min(self.settings.folds, int(np.bincount(y).min()))
        probs = out_of_sample_probabilities(features, y, folds, self.settings.c)
        accuracy = float((probs.argmax(axis=1) == y).mean())
        baseline = float(np.bincount(y).max() / len(y))
        about = {
            "features": EMBEDDING if self.use_embedding else "tfidf",
            "classified": len(rows),
            "cv_accuracy": round(accuracy, 4),
            "majority_baseline": round(baseline, 4),
        }
        if accuracy - baseline < self.settings.min_error_reduction * (1.0 - baseline):
            return {**about, "issues": 0, "skipped": "the classifier does not beat the majority class"}
        found = find_issues(y, probs, self.settings.filter_by)
        doubt = 1.0 - found.given_probability
        # Issues land in [0.5, 1], the rest in [0, 0.5): the flag is cleanlab's call.
        placed = np.where(found.is_issue, 0.5 + 0.5 * doubt, np.minimum(doubt, 0.499) * 0.999)
        scores[rows] = placed.astype(np.float32)
        for k, row in enumerate(rows):
            if found.is_issue[k]:
                best = classes[found.suggested[k]]
                suggestions[row] = best
                messages[row] = (
                    f"label '{labels[row]}' looks wrong: p={found.given_probability[k]:.2f} out of sample; "
                    f"most likely '{best}' (p={probs[k, found.suggested[k]]:.2f})"
                )
        return {**about, "issues": int(found.is_issue.sum())}

    def binary_answers(self, data: DatasetView) -> Counter[str]:
        answers: Counter[str] = Counter()
        for batch in data.iter_batches(["turns"]):
            for turns in batch.column("turns").to_pylist():
                _, answer = last_turns(turns)
                if answer is not None and len(answer) <= 20:
                    key = BINARY_ANSWERS.get(answer.strip().strip(".!").lower())
                    if key is not None:
                        answers[key] += 1
        return answers
