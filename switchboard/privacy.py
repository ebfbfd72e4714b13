"""Personal data handling shared by logs, the audit and the dashboard: masking phone numbers."""

from __future__ import annotations

import re

# A run of digits on its own: not one inside an identifier (a call id's UUID, a Twilio sid, an S3 key).
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d ]{6,}\d(?![\w-])")


def mask_phone(text: str) -> str:
    """'+61412345678' → '+614•••••678' (every phone-like run of digits in ``text``)."""
    return _PHONE.sub(lambda m: m.group()[:4] + "•" * max(len(m.group()) - 7, 0) + m.group()[-3:], text)
