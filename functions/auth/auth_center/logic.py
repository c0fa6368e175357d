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
from auth_center.schemas import StaffProvisionIn, TokenOut
from bank_common import config, schema, tokens
from bank_common.errors import ApiError, Conflict, Forbidden, InvalidCredentials

MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
CUSTOMER_LOGIN, STAFF_LOGIN = "mobile:", "staff:"


@cache
def hasher() -> PasswordHasher:
    # argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1): ~25 ms per check here instead of
    # ~125 ms for argon2-cffi's default profile (docs/decisions/0007). Older hashes are upgraded at login.
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def _dummy_hash() -> str:
    return hasher().hash("not-a-real-password-0")


def create_credential(payload: dict[str, Any]) -> dict[str, Any]:
    """Internal operation for the user center's registration: a customer's password credential.

    Idempotent for the same registration, so a registration whose call timed out converges on retry: when
    the login already holds a credential for the same customer and the same password, that is a success.
    Staff credentials are not made here (ProvisionStaffFunction, ops only), and IAM would refuse the write.
    """
    login, subject, password = str(payload.get("login", "")), str(payload.get("subject", "")), \
        str(payload.get("password", ""))
    if not login.startswith(CUSTOMER_LOGIN) or payload.get("roles"):
        raise Forbidden("Only customer credentials are created here.", code="STAFF_PROVISIONING_ONLY")
    if not subject or not password:
        raise ApiError("login, subject and password are required.", code="VALIDATION_FAILED")
    credential = Credential(login, subject=subject, kind="customer", password_hash=hasher().hash(password),
                            failed_attempts=0, locked_until=0, lock_count=0,
                            created_at=datetime.now(UTC).isoformat())
    try:
        store.create_credential(credential)
    except store.LoginTaken as exc:
        existing = store.get_credential(login)
        if existing is None or existing.subject != subject or not _verify(existing.password_hash, password):
            raise Conflict("This login already has a credential.", code="LOGIN_TAKEN") from exc
    return {"login": login, "subject": subject}


def provision_staff(payload: dict[str, Any]) -> dict[str, Any]:
    """Ops-only operation (ProvisionStaffFunction, invoked directly by operations): a staff login with roles."""
    body = schema.decode(payload, StaffProvisionIn)
    credential = Credential(f"{STAFF_LOGIN}{body.username}", subject=body.subject or f"s-{body.username}",
                            kind="staff", password_hash=hasher().hash(body.password), roles=set(body.roles),
                            failed_attempts=0, locked_until=0, lock_count=0,
                            created_at=datetime.now(UTC).isoformat())
    try:
        store.create_credential(credential)
    except store.LoginTaken as exc:
        raise Conflict("This staff login already exists.", code="LOGIN_TAKEN") from exc
    return {"username": body.username, "subject": credential.subject, "roles": sorted(body.roles)}


def login(login_name: str, password: str, kind: str, channel: str, device_id: str) -> TokenOut:
    """Check a password under the lockout rule: at most MAX_FAILURES attempts are ever checked before the
    login locks, however many arrive at once, and a locked login is refused even with the right password."""
    now = int(time.time())
    try:
        attempt = store.take_attempt(login_name, now, MAX_FAILURES, LOCK_SECONDS)
    except store.UnknownLogin:
        _verify(_dummy_hash(), password)  # same work as a real check: no user enumeration by timing
        raise InvalidCredentials() from None
    except store.Locked as locked:
        raise LoginLocked(locked.until, now) from None
    credential = attempt.credential
    if credential.kind != kind or not _verify(credential.password_hash, password):
        if attempt.locked_until:
            raise LoginLocked(attempt.locked_until, now)
        raise InvalidCredentials()
    rehashed = hasher().hash(password) if hasher().check_needs_rehash(credential.password_hash) else None
    store.record_success(credential, rehashed)
    principal = tokens.Principal(subject=credential.subject, kind=kind, roles=tuple(sorted(credential.roles or ())),
                                 channel=channel if kind == "customer" else "", device_id=device_id,
                                 auth_level="L1")
    access, ttl = tokens.issue(principal)
    return TokenOut(access_token=access, refresh_token=_new_session(principal, channel, device_id),
                    expires_in=ttl)


class LoginLocked(Forbidden):
    code = "LOGIN_LOCKED"

    def __init__(self, until: int, now: int) -> None:
        unlock_at = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        super().__init__(f"Too many failed logins; try again after {unlock_at}.",
                         details={"unlock_at": unlock_at}, headers={"Retry-After": str(max(1, until - now))})


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
