"""`curata inspect`: what is in an input before curating it (format, counts, fields, samples)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from curata.errors import FieldError
from curata.ingest import DETECT_SAMPLE, choose_format
from curata.inputs import discover, read_items


@dataclass
class FieldStats:
    present: int = 0
    types: Counter[str] = field(default_factory=Counter)
    text_chars: int = 0
    text_count: int = 0


@dataclass
class Inspection:
    path: str
    format: str | None
    records: int = 0
    bad_lines: int = 0
    first_errors: list[str] = field(default_factory=list)
    fields: dict[str, FieldStats] = field(default_factory=dict)
    roles: Counter[str] = field(default_factory=Counter)
    turns: Counter[int] = field(default_factory=Counter)
    labels: Counter[str] = field(default_factory=Counter)
    samples: list[list[tuple[str, str]]] = field(default_factory=list)
    truncated: bool = False


def type_name(value: Any) -> str:
    return type(value).__name__ if value is not None else "null"


def inspect_inputs(specs: list[str], format: str | None, samples: int, limit: int | None) -> list[Inspection]:
    results = []
    for source in discover(specs):
        items = read_items(source)
        head = list(islice(items, DETECT_SAMPLE))
        fmt = choose_format(source, head, format)
        result = Inspection(source.display, fmt.name if fmt else None)
        stream = list(head) + list(islice(items, None if limit is None else max(limit - len(head), 0)))
        result.truncated = limit is not None and next(items, None) is not None
        for item in stream:
            if item.obj is None or fmt is None:
                result.bad_lines += 1
                if len(result.first_errors) < 3:
                    result.first_errors.append(f"{source.display}:{item.line}: {item.error}")
                continue
            try:
                turns, label = fmt.parse(item.obj)
            except FieldError as exc:
                result.bad_lines += 1
                if len(result.first_errors) < 3:
                    result.first_errors.append(f"{source.display}:{item.line}: {exc}")
                continue
            result.records += 1
            for key, value in item.obj.items():
                stats = result.fields.setdefault(key, FieldStats())
                stats.present += 1
                stats.types[type_name(value)] += 1
                if isinstance(value, str):
                    stats.text_chars += len(value)
                    stats.text_count += 1
            result.roles.update(str(t.role) for t in turns)
            result.turns[len(turns)] += 1
            if label is not None:
                result.labels[label] += 1
            if len(result.samples) < samples:
                result.samples.append([(str(t.role), t.content) for t in turns])
        results.append(result)
    return results


def print_inspection(results: list[Inspection], console: Console) -> None:
    for r in results:
        more = " (first records only: --limit)" if r.truncated else ""
        console.rule(f"[bold]{r.path}")
        console.print(
            f"format: [bold]{r.format or 'unknown'}[/]   records: [bold]{r.records:,}[/]   "
            f"bad lines: [bold]{r.bad_lines:,}[/]{more}"
        )
        for error in r.first_errors:
            console.print(Text(f"  {error}", style="red"), soft_wrap=True)
        table = Table("field", "present", "types", "mean length")
        for name, stats in r.fields.items():
            share = f"{stats.present / max(r.records, 1):.0%}"
            types = ", ".join(f"{t} {n:,}" for t, n in stats.types.most_common())
            mean = f"{stats.text_chars / stats.text_count:,.0f} chars" if stats.text_count else ""
            table.add_row(name, share, types, mean)
        console.print(table)
        console.print(
            "turns per record: "
            + ", ".join(f"{k}: {v:,}" for k, v in sorted(r.turns.items())[:8])
            + "   roles: "
            + ", ".join(f"{k} {v:,}" for k, v in r.roles.most_common()),
            highlight=False,
        )
        if r.labels:
            console.print(
                "labels: " + ", ".join(f"{k} {v:,}" for k, v in r.labels.most_common(12)), highlight=False
            )
        for i, sample in enumerate(r.samples, 1):
            body = Text()
            for role, content in sample:
                body.append(f"{role}: ", style="bold")
                body.append(content[:400] + ("…" if len(content) > 400 else "") + "\n")
            console.print(Panel(body, title=f"sample {i}", title_align="left"))
