"""Advice and comparison results kept in a run directory (OUT/plan.json, OUT/compare.json).

Each file records the fingerprint of the run it was made for, so a report built after the run's
input or recipe changed does not show advice about other data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from curata.workdir import WORK, write_json

FINGERPRINT_KEY = "run_fingerprint"


def run_fingerprint(out: Path) -> str | None:
    try:
        value = json.loads((out / WORK / "manifest.json").read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        return None
    return str(value) if value is not None else None


def attach(out: Path, name: str, value: dict[str, Any]) -> Path:
    path = out / name
    write_json(path, {**value, FINGERPRINT_KEY: run_fingerprint(out)})
    return path


def attached(out: Path, name: str) -> dict[str, Any] | None:
    """The file's content when it belongs to the run now in `out`, else None."""
    try:
        value = json.loads((out / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or value.get(FINGERPRINT_KEY) != run_fingerprint(out):
        return None
    return value


def run_dir_of(report_path: Path) -> Path:
    """The run directory a report is written for: reports are built in OUT/.curata/staging first."""
    parent = report_path.parent
    if parent.name == "staging" and parent.parent.name == WORK:
        return parent.parent.parent
    return parent
