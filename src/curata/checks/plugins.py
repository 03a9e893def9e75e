"""Loading users' own checks: modules named in `CURATA_PLUGINS` (comma-separated module names or
`.py` file paths) and packages that declare a `curata.checks` entry point. Loaded when
`curata.checks` is imported, so worker processes register the same checks as the main process."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path

from curata.errors import RecipeError

ENV = "CURATA_PLUGINS"
GROUP = "curata.checks"
_loaded: set[str] = set()


def load_module(spec: str) -> None:
    if spec in _loaded:
        return
    _loaded.add(spec)
    try:
        if spec.endswith(".py"):
            path = Path(spec).resolve()
            name = f"curata_plugin_{path.stem}"
            module_spec = importlib.util.spec_from_file_location(name, path)
            if module_spec is None or module_spec.loader is None or not path.is_file():
                raise FileNotFoundError(f"no such file: {path}")
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            module_spec.loader.exec_module(module)
        else:
            importlib.import_module(spec)
    except Exception as exc:
        raise RecipeError(f"cannot load check plugin '{spec}' ({ENV}): {exc}") from None


_pending: list[RecipeError] = []


def load_plugins() -> None:
    """Load every plugin. A plugin that fails is remembered, not raised: this runs at import time
    (before the CLI can turn errors into one clear line); `raise_plugin_errors` reports it."""
    for spec in filter(None, (s.strip() for s in os.environ.get(ENV, "").split(","))):
        try:
            load_module(spec)
        except RecipeError as exc:
            _pending.append(exc)
    for entry in entry_points(group=GROUP):
        if entry.value not in _loaded:
            _loaded.add(entry.value)
            entry.load()


def raise_plugin_errors() -> None:
    """The first plugin that failed to load, as the one-line error the CLI prints."""
    if _pending:
        raise _pending[0]
