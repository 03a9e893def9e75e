"""Who may use the review app: one secret token per named reviewer (kept in
`<OUT>/review/reviewers.json`, readable by the owner only), a session cookie after the first visit,
a CSRF token on every state change, and strict security headers on every response."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from urllib.parse import parse_qs, urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from curata.errors import InputError

COOKIE = "curata_review"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
REVIEWER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def check_name(name: str) -> str:
    if not REVIEWER_NAME.match(name):
        raise InputError(f"reviewer name '{name}' must be 1-64 letters, digits, '_', '.' or '-'")
    return name


def load_tokens(path: Path, names: Sequence[str]) -> dict[str, str]:
    """Tokens of the named reviewers, created (and saved) for names seen for the first time."""
    tokens: dict[str, str] = {}
    if path.exists():
        try:
            tokens = {str(k): str(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
        except (OSError, ValueError, AttributeError) as exc:
            raise InputError(f"cannot read reviewer tokens: {exc}", path=str(path)) from None
    changed = False
    for name in names:
        if check_name(name) not in tokens:
            tokens[name] = secrets.token_urlsafe(24)
            changed = True
    if changed or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(tokens, handle, indent=2)
        os.replace(tmp, path)
    return {name: tokens[name] for name in names}


class Guard:
    """Maps tokens to reviewers and derives each reviewer's CSRF token from a per-server secret."""

    def __init__(self, tokens: dict[str, str], scope: str = "") -> None:
        self.by_token = {token: name for name, token in tokens.items()}
        self.secret = secrets.token_bytes(32)
        # Cookies ignore ports: one cookie name per run directory keeps two servers apart.
        self.cookie = f"{COOKIE}_{hashlib.sha256(scope.encode()).hexdigest()[:10]}"

    def reviewer(self, token: str | None) -> str | None:
        if not token:
            return None
        for known, name in self.by_token.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return name
        return None

    def csrf(self, token: str) -> str:
        return hmac.new(self.secret, token.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, token: str, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf(token), given or "")


def request_token(request: Request, cookie: str) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.query_params.get("token") or request.cookies.get(cookie)


def secured(response: Response) -> Response:
    for key, value in SECURITY_HEADERS.items():
        response.headers[key] = value
    return response


def make_middleware(
    guard: Guard,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        token = request_token(request, guard.cookie)
        name = guard.reviewer(token)
        if name is None or token is None:
            return secured(PlainTextResponse("a valid review token is required", status_code=401))
        origin = request.headers.get("origin")
        if origin and origin not in (f"http://{request.headers.get('host')}", "null"):
            return secured(PlainTextResponse("cross-origin request refused", status_code=403))
        if request.method not in SAFE_METHODS:
            given = request.headers.get(CSRF_HEADER)
            if given is None and request.headers.get("content-type", "").startswith(
                "application/x-www-form-urlencoded"
            ):
                # The body, not request.form(): the endpoint must still be able to read the form.
                values = parse_qs((await request.body()).decode("utf-8", "replace")).get(CSRF_FIELD)
                given = values[0] if values else None
            if not guard.csrf_ok(token, given):
                return secured(PlainTextResponse("missing or invalid CSRF token", status_code=403))
        if "token" in request.query_params and request.method in SAFE_METHODS:
            # First visit: move the token into an HttpOnly cookie and out of the address bar.
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            response: Response = RedirectResponse(target, status_code=303)
            response.set_cookie(guard.cookie, token, httponly=True, samesite="strict", path="/")
            return secured(response)
        request.state.reviewer = name
        request.state.token = token
        request.state.csrf = guard.csrf(token)
        return secured(await call_next(request))

    return middleware
