"""Idempotency helpers shared by every money-moving operation (DESIGN 4 and 5).

A key is scoped to its caller (`<subject>#<key>`), and the stored record keeps a hash of the request
and the response, so a retry with the same body replays the first answer and any other body is a 422.
Money operations store that record inside their own DynamoDB transaction, which is what makes the
transaction itself idempotent.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from bank_common.errors import ApiError, IdempotencyKeyRequired, IdempotencyKeyReused

# The one definition of a key (bank_common.schema.IdempotencyKey documents the same rule).
KEY_CHARS = r"[A-Za-z0-9][A-Za-z0-9_.:-]*"
KEY_MIN, KEY_MAX = 8, 128
_KEY = re.compile(KEY_CHARS)


def require_key(raw: str | None) -> str:
    if raw is None or raw == "":
        raise IdempotencyKeyRequired()
    if not (KEY_MIN <= len(raw) <= KEY_MAX and _KEY.fullmatch(raw)):
        raise ApiError("Idempotency-Key must be 8-128 characters of letters, digits, '_', '-', '.', ':'.",
                       code="INVALID_IDEMPOTENCY_KEY")
    return raw


def scoped(subject: str, key: str) -> str:
    return f"{subject}#{key}"


def request_hash(operation: str, body: Any) -> str:
    canonical = json.dumps({"op": operation, "body": body}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(stored_hash: str, stored_response: str, incoming_hash: str) -> dict[str, Any]:
    """The stored response for a retried request, or 422 when the key was used for something else."""
    if stored_hash != incoming_hash:
        raise IdempotencyKeyReused()
    result: dict[str, Any] = json.loads(stored_response)
    return result
