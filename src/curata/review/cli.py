"""`curata review OUT` (serve the app), `curata review export OUT`, `curata review import OUT FILE`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from curata.errors import CurataError, InputError
from curata.review.loop import REVIEW_DIR, store_path
from curata.workdir import RunDir

DEFAULT_PORT = 8765


class ServeByDefault(TyperGroup):
    """`curata review OUT ...` means `curata review serve OUT ...`."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


review_app = typer.Typer(
    cls=ServeByDefault,
    help="Review flagged records in a local web app; decisions apply on the next `curata run`.",
    no_args_is_help=True,
)


def tokens_path(out: Path) -> Path:
    return out / REVIEW_DIR / "reviewers.json"


def serve_urls(host: str, port: int, tokens: dict[str, str]) -> dict[str, str]:
    shown = f"[{host}]" if ":" in host else host
    return {name: f"http://{shown}:{port}/?token={token}" for name, token in tokens.items()}


def serve(
    out: Path,
    reviewers: list[str],
    host: str,
    port: int,
    overlap: int | None,
    tokens_file: Path | None,
    print_line: Any = print,
) -> None:
    import uvicorn

    from curata.review.app import ReviewConfig, create_app
    from curata.review.auth import load_tokens

    if not (out / "signals.parquet").exists():
        raise InputError(
            "not a finished curata run (no signals.parquet); run `curata run` first", path=str(out)
        )
    tokens = load_tokens(tokens_path(out), reviewers or ["reviewer"])
    app = create_app(ReviewConfig(out, tokens, overlap))
    urls = serve_urls(host, port, tokens)
    if tokens_file is not None:
        tokens_file.write_text(json.dumps(urls, indent=2) + "\n", encoding="utf-8")
        tokens_file.chmod(0o600)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print_line(f"warning: serving on {host}: anyone who can reach it and has a token can review")
    for name, url in urls.items():
        print_line(f"{name}: {url}")
    sys.stdout.flush()
    uvicorn.run(app, host=host, port=port, log_level="warning")


@review_app.command("serve")
def serve_command(
    out: Annotated[Path, typer.Argument(help="a finished run directory")],
    reviewer: Annotated[
        list[str] | None, typer.Option("--reviewer", help="a reviewer's name (repeat for several)")
    ] = None,
    host: Annotated[str, typer.Option(help="address to bind (default: this machine only)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = DEFAULT_PORT,
    overlap: Annotated[
        int | None, typer.Option(help="reviewers per record (default: every reviewer sees every record)")
    ] = None,
    tokens_file: Annotated[
        Path | None, typer.Option(help="also write each reviewer's URL to this JSON file")
    ] = None,
) -> None:
    """Serve the review app for OUT and print one URL (with its access token) per reviewer."""
    try:
        serve(out, list(reviewer or []), host, port, overlap, tokens_file)
    except CurataError as exc:
        print(f"curata: error: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None


@review_app.command("export")
def export_command(
    out: Annotated[Path, typer.Argument(help="a run directory with review decisions")],
    dest: Annotated[Path, typer.Option("--dest", "-d", help="JSONL file to write ('-' for stdout)")] = Path(
        "-"
    ),
) -> None:
    """Write every reviewer's current decision as JSON Lines."""
    from curata.review.store import ReviewStore

    if not store_path(out).exists():
        print(f"curata: error: {out}: no review decisions (no {store_path(out)})", file=sys.stderr)
        raise typer.Exit(1)
    lines = [
        json.dumps(line, ensure_ascii=False) + "\n" for line in ReviewStore(store_path(out)).export_lines()
    ]
    if str(dest) == "-":
        sys.stdout.writelines(lines)
    else:
        dest.write_text("".join(lines), encoding="utf-8")
        print(f"exported {len(lines)} decisions to {dest}", file=sys.stderr)


@review_app.command("import")
def import_command(
    out: Annotated[Path, typer.Argument(help="the run directory to import decisions into")],
    source: Annotated[Path, typer.Argument(help="a JSONL file from `curata review export`")],
) -> None:
    """Import decisions written by `curata review export`; they apply on the next `curata run`."""
    from curata.review.store import ReviewStore

    try:
        if not RunDir(out).manifest.exists():
            raise InputError("not a curata run directory; run `curata run` into it first", path=str(out))
        if not source.is_file():
            raise InputError("file not found", path=str(source))
        with open(source, encoding="utf-8") as handle:
            changed = ReviewStore(store_path(out)).import_lines(handle, str(source))
    except CurataError as exc:
        print(f"curata: error: {exc}", file=sys.stderr)
        raise typer.Exit(exc.exit_code) from None
    print(f"imported {changed} changed decisions into {store_path(out)}")
