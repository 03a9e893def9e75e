"""Names of the columns and check codes of a dedup stage for each key, so one recipe can dedup the
conversation, the prompt side and the response side without two stages writing the same column.

The conversation key keeps the plain names (`exact_duplicate`, `exact_dup_cluster`); the other keys
add their name (`exact_duplicate_prompt`, `exact_dup_cluster_prompt`).
"""

from __future__ import annotations

from collections.abc import Callable

from curata.records import DEDUP_KEYS

SIDE_NAMES = {"prompt": "prompt side (system and user turns)", "response": "response side (assistant turns)"}


def code_for(base: str, key: str) -> str:
    return base if key == "conversation" else f"{base}_{key}"


def cluster_column(base: str, key: str) -> str:
    return code_for(base, key)


def declare_key_codes(
    base: str, *, description: str, conversation_action: str, declare: Callable[..., None]
) -> None:
    """Declare the code for every key: the conversation's with its action, the sides' as flags
    (a prompt repeated with another answer is a conflict to look at, not a silent drop)."""
    for key in DEDUP_KEYS:
        if key == "conversation":
            declare(base, description=description, action=conversation_action)
        else:
            declare(
                code_for(base, key), description=f"{description}, on the {SIDE_NAMES[key]}", action="flag"
            )
