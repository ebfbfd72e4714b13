"""Signed, expiring tokens that bind a media stream to its call (HMAC-SHA256, constant-time check).

The TwiML that connects a call to the voice worker carries ``call_id`` and ``token`` as
``<Parameter>``s; the media server serves no stream whose token does not verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time


def _mac(secret: str, call_id: str, expires: int) -> str:
    digest = hmac.new(secret.encode(), f"{call_id}.{expires}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_stream_token(call_id: str, secret: str, *, ttl_s: int = 900, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + ttl_s)
    return f"{expires}.{_mac(secret, call_id, expires)}"


def verify_stream_token(call_id: str, token: str, secret: str, *, now: float | None = None) -> bool:
    """True only for a token signed for this call id with this secret, and not yet expired."""
    expires_s, _, mac = token.partition(".")
    if not expires_s.isdigit() or not mac:
        return False
    expires = int(expires_s)
    if expires < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(mac, _mac(secret, call_id, expires))
