"""Data access of the authentication center.

Login attempts are counted with conditional updates, never read-modify-write: each attempt takes a slot
(`failed_attempts` + 1 while below the limit and not locked) before the password is checked, and the attempt
that takes the last slot sets the lock in the same update. However many requests race, at most the limit
of them get to check a password; every other one finds the lock (or a full window) and is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError
from pynamodb.expressions.update import Action

from auth_center.models import Credential, Session
from bank_common import ddb
from bank_common.ddb import n


class LoginTaken(Exception):
    pass


class Locked(Exception):
    def __init__(self, until: int) -> None:
        self.until = until
        super().__init__(until)


class UnknownLogin(Exception):
    pass


@dataclass(frozen=True)
class Attempt:
    credential: Credential
    locked_until: int  # set when this attempt took the last slot and locked the login


def get_credential(login: str) -> Credential | None:
    try:
        return Credential.get(login, consistent_read=True)
    except Credential.DoesNotExist:
        return None


def create_credential(credential: Credential) -> None:
    try:
        credential.save(condition=Credential.login.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            raise LoginTaken() from exc
        raise


def take_attempt(login: str, now: int, limit: int, lock_seconds: int) -> Attempt:
    """Take one of the login's `limit` attempt slots, or raise Locked / UnknownLogin.

    The attempt that takes the last slot also locks the login (from `now` for `lock_seconds` times 2 to the
    number of earlier locks since the last success, at most a day). A lock that has run out opens a new
    window of slots, started by this attempt.
    """
    for _ in range(6):  # only lost races come back round
        applied, old = _update(login, "ADD failed_attempts :one",
                               "attribute_exists(login) AND (attribute_not_exists(locked_until) OR "
                               "locked_until <= :now) AND (attribute_not_exists(failed_attempts) OR "
                               "failed_attempts < :before_last)",
                               {":one": n(1), ":now": n(now), ":before_last": n(limit - 1)})
        if applied:
            return Attempt(Credential.from_raw_data(old), 0)
        if not old:
            raise UnknownLogin()
        state = Credential.from_raw_data(old)
        if int(state.locked_until or 0) > now:
            raise Locked(int(state.locked_until))
        count = int(state.failed_attempts or 0)
        if count == limit - 1:  # the last slot: take it and lock in one write
            until = now + min(lock_seconds * 2 ** int(state.lock_count or 0), 86_400)
            applied, new = _update(login, "SET failed_attempts = :limit, locked_until = :until ADD lock_count :one",
                                   "failed_attempts = :count AND (attribute_not_exists(locked_until) OR "
                                   "locked_until <= :now)",
                                   {":limit": n(limit), ":until": n(until), ":one": n(1), ":count": n(count),
                                    ":now": n(now)})
            if applied:
                return Attempt(Credential.from_raw_data(new), until)
        elif count >= limit:  # a lock that has run out: this attempt opens the next window
            applied, new = _update(login, "SET failed_attempts = :one, locked_until = :zero",
                                   "failed_attempts = :count AND locked_until = :seen",
                                   {":one": n(1), ":zero": n(0), ":count": n(count),
                                    ":seen": n(int(state.locked_until or 0))})
            if applied:
                return Attempt(Credential.from_raw_data(new), 0)
    raise Locked(now + 1)  # persistent contention on one login: treat as locked for now


def _update(login: str, expression: str, condition: str, values: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    """One conditional UpdateItem: (True, the item after) when it applied, else (False, the item as it was,
    {} if there is none)."""
    try:
        response = ddb.client().update_item(
            TableName=ddb.table_name(Credential), Key={"login": {"S": login}}, UpdateExpression=expression,
            ConditionExpression=condition, ExpressionAttributeValues=values, ReturnValues="ALL_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
        return False, dict(exc.response.get("Item") or {})
    return True, dict(response["Attributes"])


def record_success(credential: Credential, new_hash: str | None = None) -> None:
    """A right password: the window and any lock it set start afresh; a rehash is stored."""
    actions: list[Action] = [Credential.failed_attempts.set(0), Credential.locked_until.set(0),
                             Credential.lock_count.set(0)]
    if new_hash:
        actions.append(Credential.password_hash.set(new_hash))
    credential.update(actions=actions)


def save_session(session: Session) -> None:
    session.save(condition=Session.token_hash.does_not_exist())
