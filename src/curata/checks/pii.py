"""`pii`: e-mail addresses, phone numbers, payment card numbers, IBANs, API keys and tokens.

A regex core with validation where a checksum exists (Luhn for cards, ISO 7064 mod 97 for IBANs),
so random digit runs are not reported. Decisions (see docs/checks.md):
- secrets (keys, tokens, private keys) count everywhere, code included: a real key in a code
  sample is still a leaked key;
- e-mail addresses and phone numbers inside code blocks are not reported (`user@example.com` in a
  sample config is not a person), nor are addresses at reserved example domains (RFC 2606) anywhere;
- every turn is checked, prompts included.
"""

from __future__ import annotations

import re

from curata.checks.registry import Score, record_check
from curata.checks.text import without_code
from curata.records import Record

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@((?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24})\b")
EXAMPLE_DOMAINS = re.compile(
    r"(?:^|\.)(?:example\.(?:com|org|net)|test|invalid|localhost|domain\.com)$", re.IGNORECASE
)
PHONE = re.compile(
    r"(?<![\w+.-])(?<!\d )(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])\d{3,4}[ .-]\d{3,4}"
    r"(?![\w.-])(?! \d)"
)
CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
SECRETS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\bAKIA[0-9A-Z]{16}\b"), "AWS access key"),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"), "GitHub token"),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{60,}\b"), "GitHub token"),
    (re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{32,}\b"), "OpenAI/Anthropic-style API key"),
    (re.compile(r"\bxox[baprs]-[A-Za-z0-9-]{10,}\b"), "Slack token"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), "Google API key"),
    (re.compile(r"\bhf_[A-Za-z0-9]{34,}\b"), "Hugging Face token"),
    (re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH )?PRIVATE KEY-----"), "private key"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}"), "JSON Web Token"),
)
DIGIT_RUN = re.compile(r"\d(?:[ ().+-]{0,3}\d){8}")
# Every secret pattern starts with one of these (GitHub tokens: gh?_ or github_pat_).
SECRET_TRIGGERS = ("AKIA", "_", "sk-", "xox", "AIza", "PRIVATE KEY", "eyJ")
_ASCII_NON_DIGITS = bytes(c for c in range(128) if not chr(c).isdigit())


def nine_digits(text: str) -> bool:
    """Whether the text may hold DIGIT_RUN's nine digits: a count in C before the regex scan
    (exact for ASCII, where \\d is 0-9; other text goes straight to the scan)."""
    if text.isascii():
        return len(text.encode("ascii").translate(None, _ASCII_NON_DIGITS)) >= 9
    return True


SEVERITY = {"email": 0.6, "phone": 0.6, "card": 0.9, "iban": 0.9, "secret": 1.0}


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_ok(candidate: str) -> bool:
    value = candidate.replace(" ", "")
    if not 15 <= len(value) <= 34:
        return False
    rearranged = value[4:] + value[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def card_number(text: str) -> str | None:
    for match in CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and digits[0] in "3456" and len(set(digits)) > 2 and luhn_ok(digits):
            return match.group(0)
    return None


def find_pii(text: str) -> list[tuple[str, str]]:
    """(kind, matched text) for each kind of PII found, most severe kinds first."""
    found: list[tuple[str, str]] = []
    if any(t in text for t in SECRET_TRIGGERS):
        for pattern, what in SECRETS:
            match = pattern.search(text)
            if match:
                found.append(("secret", f"{what} {match.group(0)[:12]}…"))
                break
    # Phones, cards and IBANs all hold a run of 9+ digits with separators: one cheap scan first.
    has_digits = nine_digits(text) and DIGIT_RUN.search(text) is not None
    if has_digits:
        card = card_number(text)
        if card:
            found.append(("card", card))
        for match in IBAN.finditer(text):
            if iban_ok(match.group(0)):
                found.append(("iban", match.group(0)))
                break
    prose = without_code(text) if ("@" in text or has_digits) else text
    if "@" in prose:
        for match in EMAIL.finditer(prose):
            if not EXAMPLE_DOMAINS.search(match.group(1)):
                found.append(("email", match.group(0)))
                break
    if has_digits:
        for match in PHONE.finditer(prose):
            if sum(ch.isdigit() for ch in match.group(0)) >= 9:
                found.append(("phone", match.group(0)))
                break
    return found


def mask(value: str) -> str:
    """Enough of a match to find it again, not enough to spread it further."""
    return value if len(value) <= 6 else value[:3] + "…" + value[-2:]


@record_check(
    "pii",
    description="e-mail addresses, phone numbers, card numbers, keys and similar",
    action="flag",
)
def pii(record: Record, settings: object) -> Score | None:
    best: Score | None = None
    for index, turn in enumerate(record.turns):
        hits = find_pii(turn.content)
        if not hits:
            continue
        value = max(SEVERITY[kind] for kind, _ in hits)
        if best is None or value > best.value:
            kinds = ", ".join(f"{kind} {mask(text)}" for kind, text in hits)
            best = Score(value, f"possible personal data or secret: {kinds}", turn=index)
    return best
