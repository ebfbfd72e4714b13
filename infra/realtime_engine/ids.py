"""Identifiers in the real service's shapes: a type prefix and random alphanumerics."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 22) -> str:
    """``event_…``, ``item_…``, ``resp_…``, ``call_…``, ``sess_…``, ``conv_…``."""
    return f"{prefix}_" + "".join(secrets.choice(_ALPHABET) for _ in range(length))
