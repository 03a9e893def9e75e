"""When to try again: exponential backoff with full jitter, unless the server says how long to wait."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping


class TransientError(Exception):
    """Worth retrying (429, 5xx, timeout, connection reset); may carry the server's Retry-After."""

    def __init__(self, message: str, retry_after: float | None = None, unreachable: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        # The server could not be reached at all: when retries run out, nothing else will work either.
        self.unreachable = unreachable


class RequestFailedError(Exception):
    """This request cannot succeed (400, 422, context too long): its record is left unscored."""


class FatalLLMError(Exception):
    """No request can succeed (bad key, unknown model, no server): the whole job stops."""


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def backoff_delay(
    attempt: int,
    base: float,
    cap: float,
    retry_after: float | None,
    retry_after_max: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds before retry number `attempt` (0-based). The server's Retry-After wins when given
    (capped at `retry_after_max`); otherwise full jitter over base * 2**attempt, capped at `cap`."""
    if retry_after is not None:
        return min(retry_after, retry_after_max)
    ceiling = min(cap, base * (2**attempt))
    return (rng or random).uniform(0, ceiling)
