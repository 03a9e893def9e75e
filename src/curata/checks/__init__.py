"""Checks: per-record and dataset-level, all registered by code (see `registry`).

Importing this package registers the built-in checks, one module per family.
"""

from curata.checks import (
    basic,
    contamination,
    encoding,
    language,
    pii,
    placeholder,
    refusal,
    repetition,
    truncation,
)
from curata.checks.plugins import load_plugins
from curata.checks.registry import CHECKS, Action, CheckInfo, Score, declare_check, record_check

load_plugins()

__all__ = [
    "CHECKS",
    "Action",
    "CheckInfo",
    "Score",
    "basic",
    "contamination",
    "declare_check",
    "encoding",
    "language",
    "pii",
    "placeholder",
    "record_check",
    "refusal",
    "repetition",
    "truncation",
]
