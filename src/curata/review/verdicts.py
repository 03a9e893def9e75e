"""Human verdicts as `decide` applies them: the check codes a review adds and the override of
the rules' keep/drop for every reviewed record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from curata.checks.registry import declare_check

HUMAN_REJECT = "human_reject"
NEEDS_REWRITE = "needs_rewrite"
HUMAN_EDIT = "human_edit"
HUMAN_RELABEL = "human_relabel"
HUMAN_CODES = (HUMAN_REJECT, NEEDS_REWRITE, HUMAN_EDIT, HUMAN_RELABEL)

declare_check(HUMAN_REJECT, description="rejected by a human reviewer", action="drop")
declare_check(NEEDS_REWRITE, description="a human reviewer marked it for rewriting", action="drop")
declare_check(HUMAN_EDIT, description="the response was edited by a human reviewer", action="flag")
declare_check(HUMAN_RELABEL, description="the label was changed by a human reviewer", action="flag")


class Verdict(BaseModel):
    """The final human decision on one record, as `decide` applies it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reviewer: str
    status: Literal["accept", "reject", "needs_rewrite"] | None = None
    reason: str | None = None
    edited: bool = False
    relabelled: bool = False

    @property
    def decided_by(self) -> str:
        return f"human:{self.reviewer}"

    @property
    def keeps(self) -> bool:
        """An edit or relabel without a verdict means the reviewer fixed the record: keep it."""
        return self.status == "accept" or (self.status is None and (self.edited or self.relabelled))


def human_columns(
    ids: Sequence[str],
    verdicts: Mapping[str, Verdict],
    kept: list[bool],
    reasons: list[list[str]],
    flags: list[list[str]],
    decided_by: list[str],
) -> dict[str, list[Any]]:
    """Override the rules' decision for every reviewed row (in place); returns the score and
    message columns of the human codes."""
    scores: dict[str, list[float]] = {code: [0.0] * len(ids) for code in HUMAN_CODES}
    messages: dict[str, list[str | None]] = {code: [None] * len(ids) for code in HUMAN_CODES}
    for i, rid in enumerate(ids):
        verdict = verdicts.get(rid)
        if verdict is None:
            continue
        who = verdict.reviewer
        human_flags: list[str] = []
        if verdict.edited:
            human_flags.append(HUMAN_EDIT)
            messages[HUMAN_EDIT][i] = f"response edited by {who}"
        if verdict.relabelled:
            human_flags.append(HUMAN_RELABEL)
            messages[HUMAN_RELABEL][i] = f"label changed by {who}"
        if verdict.keeps:
            # The rules' reasons stay visible as flags: overruled, not forgotten.
            flags[i] = [*reasons[i], *flags[i], *human_flags]
            reasons[i] = []
            kept[i] = True
        elif verdict.status in ("reject", "needs_rewrite"):
            code = HUMAN_REJECT if verdict.status == "reject" else NEEDS_REWRITE
            note = f": {verdict.reason}" if verdict.reason else ""
            messages[code][i] = f"{verdict.status.replace('_', ' ')} by {who}{note}"
            reasons[i] = [code, *reasons[i]]
            flags[i] = [*flags[i], *human_flags]
            kept[i] = False
        else:
            continue
        for code in [*reasons[i], *flags[i]]:
            if code in scores:
                scores[code][i] = 1.0
        decided_by[i] = verdict.decided_by
    return {**scores, **{f"{code}__msg": values for code, values in messages.items()}}
