"""Business rules of the authentication center: credentials, login, lockout, sessions."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from auth_center import store
from auth_center.models import Credential, Session
from auth_center.schemas import TokenOut
from bank_common import config, tokens
from bank_common.errors import ApiError, Conflict, Forbidden, InvalidCredentials

MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60


@cache
def hasher() -> PasswordHasher:
    # argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1): ~25 ms per check here instead of
    # ~125 ms for argon2-cffi's default profile (docs/decisions/0007). Older hashes are upgraded at login.
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def _dummy_hash() -> str:
    return hasher().hash("not-a-real-password-0")


def create_credential(payload: dict[str, Any]) -> dict[str, Any]:
    """Internal operation: store a password for a login (user center registration, staff seeding)."""
    login, subject, password = str(payload["login"]), str(payload["subject"]), str(payload["password"])
    kind = "staff" if login.startswith("staff:") else "customer"
    roles = {str(r) for r in payload.get("roles") or []} or None
    credential = Credential(login, subject=subject, kind=kind, password_hash=hasher().hash(password), roles=roles,
                            failed_attempts=0, locked_until=0, created_at=datetime.now(UTC).isoformat())
    try:
        store.create_credential(credential)
    except store.LoginTaken as exc:
        raise Conflict("This login already has a credential.", code="LOGIN_TAKEN") from exc
    return {"login": login, "subject": subject}


def login(login_name: str, password: str, kind: str, channel: str, device_id: str) -> TokenOut:
    credential = store.get_credential(login_name)
    now = int(time.time())
    if credential is None or credential.kind != kind:
        _verify(_dummy_hash(), password)  # same work as a real check: no user enumeration by timing
        raise InvalidCredentials()
    if int(credential.locked_until) > now:
        raise Forbidden("Too many failed logins; try again later.", code="LOGIN_LOCKED")
    if not _verify(credential.password_hash, password):
        failures = int(credential.failed_attempts) + 1
        store.record_failure(credential, now + LOCK_SECONDS if failures >= MAX_FAILURES else None)
        raise InvalidCredentials()
    rehashed = hasher().hash(password) if hasher().check_needs_rehash(credential.password_hash) else None
    store.record_success(credential, rehashed)
    principal = tokens.Principal(subject=credential.subject, kind=kind, roles=tuple(sorted(credential.roles or ())),
                                 channel=channel if kind == "customer" else "", device_id=device_id,
                                 auth_level="L1")
    access, ttl = tokens.issue(principal)
    return TokenOut(access_token=access, refresh_token=_new_session(principal, channel, device_id),
                    expires_in=ttl)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _new_session(principal: tokens.Principal, channel: str, device_id: str) -> str:
    token = secrets.token_urlsafe(32)
    ttl = config.settings().refresh_token_ttl_seconds
    store.save_session(Session(hashlib.sha256(token.encode()).hexdigest(), subject=principal.subject,
                               kind=principal.kind, channel=channel, device_id=device_id,
                               created_at=datetime.now(UTC).isoformat(),
                               expires_at=datetime.fromtimestamp(time.time() + ttl, UTC)))
    return token


def device_id(raw: str | None) -> str:
    if raw is None:
        return ""
    if not (1 <= len(raw) <= 128) or not all(c.isalnum() or c in "-_:." for c in raw):
        raise ApiError("X-Device-Id must be 1-128 characters of letters, digits, '-', '_', ':', '.'.",
                       code="INVALID_DEVICE_ID")
    return raw
