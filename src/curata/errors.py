"""Errors a user can act on: each names the file (and line or field) and prints as one line."""

from __future__ import annotations


class CurataError(Exception):
    """An error that stops the run; the CLI prints it as one line and exits with `exit_code`."""

    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.detail = message
        super().__init__(self.render())

    def render(self) -> str:
        where = self.path or ""
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.detail}" if where else self.detail


class InputError(CurataError):
    """Missing, unreadable or undetectable input."""


class BadLineError(CurataError):
    """A line that could not be turned into a record; fatal only under --strict."""

    exit_code = 2


class RecipeError(CurataError):
    """The recipe is invalid; raised before any stage runs."""


class FieldError(ValueError):
    """A record's field is missing or has the wrong type; the reader adds file and line."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"field '{field}': {message}")


class ExportError(CurataError):
    """A record cannot be written in the requested format."""


class OutputDirError(CurataError):
    """The output directory cannot be used for this run."""


class InvariantError(CurataError):
    """An internal guarantee failed (e.g. a record went missing): never silently ignored."""

    exit_code = 3
