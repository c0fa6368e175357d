"""HMAC-SHA256 signatures between the bank and a biller: over `<unix seconds>.<raw body>` with the biller's
shared secret, hex in a header, the timestamp in another (docs/decisions/0041). The timestamp is inside what
is signed, so an old message cannot be replayed with a fresh time; messages older (or newer) than
TOLERANCE_SECONDS are refused."""

from __future__ import annotations

import hashlib
import hmac
import time

from bank_common.errors import ApiError

TOLERANCE_SECONDS = 300
TIMESTAMP_HEADER, SIGNATURE_HEADER = "X-Biller-Timestamp", "X-Biller-Signature"


class SignatureRequired(ApiError):
    status, code, message = 401, "SIGNATURE_REQUIRED", "The callback must carry its timestamp and signature."


class BadSignature(ApiError):
    status, code, message = 401, "BAD_SIGNATURE", "The callback's signature does not match."


class StaleTimestamp(ApiError):
    status, code, message = 401, "STALE_TIMESTAMP", "The callback's timestamp is too far from now."


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The two headers a signed message carries."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def verify(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float | None = None) -> None:
    """Raise unless `signature` is this body's, made within the tolerance (the signature is checked first:
    an unsigned sender learns nothing about our clock)."""
    if not timestamp or not signature:
        raise SignatureRequired()
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.lower()):
        raise BadSignature()
    if not timestamp.isdigit() or abs((time.time() if now is None else now) - int(timestamp)) > TOLERANCE_SECONDS:
        raise StaleTimestamp()
