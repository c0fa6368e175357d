"""Sessions: a login starts a family (`sid`); its refresh tokens rotate on every use; reuse ends it.

- A refresh token is random, stored only as its SHA-256, bound to its family, channel and device. Using it
  marks it used, stores the next one and moves the family's generation on, in one transaction conditioned
  on the token being unused and the family active at that generation (auth_center.store.rotate).
- Presenting a used token again is reuse: someone else has a copy. The whole family is revoked — its other
  refresh tokens at once, its access tokens at the authorizer's next cache miss (the sid joins the
  subject's revocation item). Two requests racing with one token are the same case: one wins, and the
  loser's reuse ends the family for both.
- Logout revokes the current family; revoke-all sets the subject's `revoked_before` (every token issued
  before is refused, and every family that started before can no longer refresh).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import UTC, datetime

from auth_center import store
from auth_center.models import Family, Session
from auth_center.schemas import TokenOut
from bank_common import config, tokens
from bank_common.errors import Unauthorized
from bank_common.principal import Principal


class InvalidRefreshToken(Unauthorized):
    code, message = "INVALID_REFRESH_TOKEN", "The refresh token is unknown, expired or not for this device."


class RefreshTokenReused(Unauthorized):
    code = "REFRESH_TOKEN_REUSED"
    message = "This refresh token was used before; the session has been ended everywhere. Log in again."


class SessionRevoked(Unauthorized):
    code, message = "SESSION_REVOKED", "The session was ended. Log in again."


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _access_ttl_ms() -> int:
    return config.settings().access_token_ttl_seconds * 1000


def _refresh_item(token: str, family: Family, generation: int, expires_at: datetime) -> Session:
    return Session(_hash(token), subject=family.pk.removeprefix("SUBJ#"), kind=family.kind, channel=family.channel,
                   device_id=family.device_id, session_id=family.session_id, generation=generation,
                   created_at=datetime.now(UTC).isoformat(), expires_at=expires_at)


def _principal(family: Family) -> Principal:
    return Principal(subject=family.pk.removeprefix("SUBJ#"), kind=family.kind,
                     roles=tuple(sorted(family.roles or ())), channel=family.channel, device_id=family.device_id,
                     auth_level=family.auth_level, session_id=family.session_id)


def _out(family: Family, refresh_token: str, now: float) -> TokenOut:
    access, ttl = tokens.issue(_principal(family))
    return TokenOut(access_token=access, refresh_token=refresh_token, expires_in=ttl,
                    refresh_expires_in=max(0, int(family.expires_at.timestamp() - now)))


def start(principal: Principal, server_device_id: str = "") -> TokenOut:
    """A new family for a successful login, its first refresh token and an access token."""
    now = time.time()
    expires = datetime.fromtimestamp(now + config.settings().refresh_token_ttl_seconds, UTC)
    session_id = "s" + secrets.token_hex(12)
    family = Family(store.subject_key(principal.subject), f"FAM#{session_id}", session_id=session_id,
                    kind=principal.kind, roles=set(principal.roles) or None, channel=principal.channel,
                    device_id=principal.device_id, server_device_id=server_device_id,
                    auth_level=principal.auth_level, status="active", generation=0, created_ms=int(now * 1000),
                    expires_at=expires)
    token = secrets.token_urlsafe(32)
    store.start_session(family, _refresh_item(token, family, 0, expires))
    return _out(family, token, now)


def refresh(token: str, channel: str, device_id: str) -> TokenOut:
    """Exchange a refresh token for new tokens of the same family (same channel and device)."""
    now = time.time()
    current = store.refresh_token(_hash(token))
    if current is None or current.expires_at.timestamp() <= now:
        raise InvalidRefreshToken()
    if (current.kind == "customer" and current.channel != channel) or current.device_id != device_id:
        raise InvalidRefreshToken()
    family, revoked = store.family_and_revocation(current.subject, current.session_id)
    if family is None or family.status != "active" or current.session_id in revoked.revoked_sids \
            or int(family.created_ms) < revoked.revoked_before_ms:
        raise SessionRevoked()
    if current.used_at is not None or int(current.generation) != int(family.generation):
        _end_for_reuse(current, now)
    following = secrets.token_urlsafe(32)
    try:
        store.rotate(current, _refresh_item(following, family, int(family.generation) + 1, family.expires_at),
                     family, int(now * 1000))
    except store.Reused:
        _end_for_reuse(current, now)
    except store.FamilyEnded:
        raise SessionRevoked() from None
    return _out(family, following, now)


def _end_for_reuse(current: Session, now: float) -> None:
    from bank_common import obs

    store.revoke_family(current.subject, current.session_id, int(now * 1000), _access_ttl_ms())
    obs.log().warning("refresh token reused: session family revoked", extra={"session_id": current.session_id})
    obs.emit_metric("RefreshTokenReused")
    raise RefreshTokenReused()


def logout(principal: Principal) -> None:
    store.revoke_family(principal.subject, principal.session_id, int(time.time() * 1000), _access_ttl_ms())


def revoke_all(subject: str) -> None:
    store.revoke_all(subject, int(time.time() * 1000))


def revoke_device(subject: str, server_device_id: str) -> int:
    """End every session of one bound device (it was unbound); how many were active."""
    ended = 0
    for family in store.families(subject):
        if family.server_device_id == server_device_id and family.status == "active":
            store.revoke_family(subject, family.session_id, int(time.time() * 1000), _access_ttl_ms())
            ended += 1
    return ended
