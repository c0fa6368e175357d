"""Masking of personal data and secrets before anything reaches a log line."""

from __future__ import annotations

import re
from typing import Any

# Keys whose values are secrets: never logged, not even masked.
SECRET_KEYS = frozenset({
    "password", "new_password", "old_password", "otp", "token", "access_token", "refresh_token",
    "authorization", "secret", "private_key", "cookie", "cvv",
})
# Keys whose values are personal data: logged masked (enough to correlate, not to identify).
PII_KEYS = frozenset({
    "mobile", "phone", "id_number", "id_no", "card_number", "card_no", "account_number", "name",
    "real_name", "email", "address",
})

# Mainland ID numbers (18 chars), bank card / account numbers (16-19 digits), mobiles (11 digits, also
# written +86 / 0086 / 86 first, with spaces or hyphens between the groups).
_ID = re.compile(r"(?<![0-9])([1-9][0-9]{5})[0-9]{8}([0-9]{3}[0-9Xx])(?![0-9])")
_CARD = re.compile(r"(?<![0-9])([0-9]{4})[0-9]{8,11}([0-9]{4})(?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])((?:\+|00)?86[ -]?)?(1[3-9][0-9])[ -]?[0-9]{4}[ -]?([0-9]{4})(?![0-9])")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
# A JWT anywhere (a header and a payload are base64url JSON objects, so both start "eyJ").
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def mask_text(text: str) -> str:
    text = _BEARER.sub(r"\1***", text)
    text = _JWT.sub("eyJ***", text)
    text = _ID.sub(r"\1********\2", text)
    text = _CARD.sub(r"\1********\2", text)
    return _MOBILE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(3)}", text)


def mask_value(value: Any) -> Any:
    if isinstance(value, str):
        if len(value) <= 4:
            return "***"
        return value[:2] + "*" * (len(value) - 4) + value[-2:]
    return "***"


def scrub(obj: Any) -> Any:
    """A copy of obj with secrets removed and personal data masked, recursively."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            lowered = str(key).lower()
            if lowered in SECRET_KEYS:
                out[key] = "[redacted]"
            elif lowered in PII_KEYS:
                out[key] = mask_value(value)
            else:
                out[key] = scrub(value)
        return out
    if isinstance(obj, (list, tuple)):
        return [scrub(v) for v in obj]
    if isinstance(obj, str):
        return mask_text(obj)
    return obj
