"""Revoked sessions, as the API authorizer reads them: one item per subject in the authentication center's
table (`pk = REVOKE#<subject>`), read with one consistent GetItem per authorizer cache miss.

The item holds `revoked_before` (epoch ms: every token the subject was issued before it is refused — a
revoke-all, a password reset, a dismissed staff member) and `revoked_sids`, the session families revoked
one by one (a logout, a reused refresh token, an unbound device), each as "<sid>@<epoch ms>". A family is
remembered only as long as one of its access tokens can live, so the set stays small: the authentication
center prunes entries older than the access-token lifetime when it writes (auth_center.store).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bank_common.principal import Principal

TABLE_ENV = "AUTH_TABLE"
PREFIX = "REVOKE#"


@dataclass(frozen=True)
class State:
    revoked_before_ms: int = 0
    revoked_sids: frozenset[str] = frozenset()

    def refuses(self, principal: Principal) -> bool:
        return principal.session_id in self.revoked_sids or principal.issued_at_ms < self.revoked_before_ms


def key(subject: str) -> dict[str, dict[str, str]]:
    return {"pk": {"S": PREFIX + subject}, "sk": {"S": "-"}}


def entry(session_id: str, at_ms: int) -> str:
    return f"{session_id}@{at_ms}"


def parse(item: dict[str, Any] | None) -> State:
    if not item:
        return State()
    before = int((item.get("revoked_before") or {}).get("N", "0"))
    sids = frozenset(value.partition("@")[0] for value in (item.get("revoked_sids") or {}).get("SS", []))
    return State(before, sids)


def read(subject: str) -> State:
    """The subject's revocation state, read consistently (a logout is seen by the next cache miss)."""
    from bank_common import config, ddb

    response = ddb.client().get_item(TableName=config.env(TABLE_ENV), Key=key(subject), ConsistentRead=True,
                                     ProjectionExpression="revoked_before, revoked_sids")
    return parse(response.get("Item"))
