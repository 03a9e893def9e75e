"""Closing the loop: what `curata run` takes from the review store of its output directory.

Decisions live in `<OUT>/review/decisions.sqlite`, which a rerun keeps (it only replaces the
contract files and `.curata/`). A run reads the final decision per record (the reviewer who acted
last) and applies it in two places:

- edits and relabels are an overlay applied while reading records (`ingest`), so every signal is
  computed on the corrected record; they are part of the ingest fingerprint;
- accept / reject / needs-rewrite are given to `decide` as settings, so a changed verdict only
  re-runs `decide` and what follows it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from curata.formats.base import RecordFormat
from curata.recipe import Recipe, StageSpec
from curata.records import Role, Turn
from curata.review.verdicts import Verdict

REVIEW_DIR = "review"
STORE_NAME = "decisions.sqlite"


def store_path(out: Path) -> Path:
    return out / REVIEW_DIR / STORE_NAME


@dataclass(frozen=True)
class Correction:
    """A human edit of the last response and/or a new label."""

    edit: str | None
    label: str | None

    def apply(
        self, fmt: type[RecordFormat], turns: list[Turn], label: str | None, obj: dict[str, Any]
    ) -> tuple[list[Turn], str | None, dict[str, Any]]:
        """New turns, label and record object; only the fields the change touches are rewritten."""
        new_turns = list(turns)
        if self.edit is not None:
            last = max((i for i, t in enumerate(turns) if t.role is Role.ASSISTANT), default=None)
            if last is not None:
                new_turns[last] = Turn(Role.ASSISTANT, self.edit)
        new_label = self.label if self.label is not None else label
        before = fmt.render(turns, label)
        after = fmt.render(new_turns, new_label)
        out = dict(obj)
        for key, value in after.items():
            if before.get(key) != value:
                out[key] = value
        if self.label is not None and before.get("label", obj.get("label")) != self.label:
            out["label"] = typed_label(obj.get("label"), self.label)
        return new_turns, new_label, out


def typed_label(original: Any, label: str) -> Any:
    """Keep integer labels integers when the new label is a number too."""
    if isinstance(original, int) and not isinstance(original, bool) and label.lstrip("-").isdigit():
        return int(label)
    return label


@dataclass(frozen=True)
class RunReview:
    verdicts: dict[str, Verdict]
    corrections: dict[str, Correction]

    def corrections_json(self) -> list[Any]:
        return sorted([rid, c.edit, c.label] for rid, c in self.corrections.items())


EMPTY = RunReview({}, {})


def load_for_run(out: Path) -> RunReview:
    """The final decisions stored for this output directory (none when there is no store)."""
    path = store_path(out)
    if not path.exists():
        return EMPTY
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0) as db:
        rows = db.execute(
            "SELECT record_id, reviewer, status, reason, label, edit FROM decisions ORDER BY seq"
        ).fetchall()
    final = {row[0]: row for row in rows}
    verdicts: dict[str, Verdict] = {}
    corrections: dict[str, Correction] = {}
    for rid, reviewer, status, reason, label, edit in final.values():
        verdicts[rid] = Verdict(
            reviewer=reviewer,
            status=status,
            reason=reason,
            edited=edit is not None,
            relabelled=label is not None,
        )
        if edit is not None or label is not None:
            corrections[rid] = Correction(edit, label)
    return RunReview(verdicts, corrections)


def with_human_decisions(recipe: Recipe, review: RunReview) -> Recipe:
    """The recipe with the verdicts given to its `decide` stage (added when the recipe omits it)."""
    if not review.verdicts:
        return recipe
    human = {rid: v.model_dump(mode="json") for rid, v in sorted(review.verdicts.items())}
    stages: list[StageSpec] = list(recipe.stages)
    names = [s.name for s in stages]
    if "decide" in names:
        i = names.index("decide")
        stages[i] = replace(stages[i], settings={**stages[i].settings, "human": human})
    else:
        stages.append(StageSpec("decide", {"human": human}, None))
    return replace(recipe, stages=tuple(stages))
