"""Checks: per-record and dataset-level, all registered by code (see `registry`)."""

from curata.checks.registry import CHECKS, Action, CheckInfo, Score, declare_check, record_check

__all__ = ["CHECKS", "Action", "CheckInfo", "Score", "declare_check", "record_check"]
