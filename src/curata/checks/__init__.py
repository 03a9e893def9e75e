"""Checks: per-record and dataset-level, all registered by code (see `registry`).

Importing this package registers the built-in checks.
"""

from curata.checks import basic
from curata.checks.registry import CHECKS, Action, CheckInfo, Score, declare_check, record_check

__all__ = ["CHECKS", "Action", "CheckInfo", "Score", "basic", "declare_check", "record_check"]
