"""Data access of the authentication center (its three tables; see models.py for what lives where).

Login attempts are counted with conditional updates, never read-modify-write: each attempt takes a slot
(`failed_attempts` + 1 while below the limit and not locked) before the password is checked, and the attempt
that takes the last slot sets the lock in the same update. However many requests race, at most the limit
of them get to check a password; every other one finds the lock (or a full window) and is refused.

The same rule holds for everything else that must happen once or at most N times: an OTP attempt is an
`ADD attempts` conditioned on the count, its use a `SET used_at` conditioned on its absence, a refresh
token's exchange a transaction conditioned on the token being unused and the family's generation, a
device binding a transaction with the device count's condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError
from pynamodb.expressions.update import Action

from auth_center.models import (
    Contact,
    Credential,
    Device,
    DeviceCount,
    Family,
    OtpChallenge,
    Session,
    StepUpChallenge,
)
from bank_common import ddb, revocation
from bank_common.ddb import n, s


class LoginTaken(Exception):
    pass


class Locked(Exception):
    def __init__(self, until: int) -> None:
        self.until = until
        super().__init__(until)


class UnknownLogin(Exception):
    pass


class Reused(Exception):
    """A refresh token that was already exchanged (or is being exchanged by a racing request)."""


class FamilyEnded(Exception):
    """The session family was revoked (or moved on) while this request ran."""


class DeviceLimit(Exception):
    pass


class NotFound(Exception):
    pass


@dataclass(frozen=True)
class Attempt:
    credential: Credential
    locked_until: int  # set when this attempt took the last slot and locked the login


def subject_key(subject: str) -> str:
    return f"SUBJ#{subject}"


# --- credentials ------------------------------------------------------------------------------------------

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
    """One conditional UpdateItem of a credential: (True, the item after) when it applied, else (False, the
    item as it was, {} if there is none)."""
    return conditional_update(ddb.table_name(Credential), {"login": s(login)}, expression, condition, values)


def conditional_update(table: str, key: dict[str, Any], expression: str, condition: str,
                       values: dict[str, Any], names: dict[str, str] | None = None) -> tuple[bool, dict[str, Any]]:
    request: dict[str, Any] = {"TableName": table, "Key": key, "UpdateExpression": expression,
                               "ConditionExpression": condition, "ExpressionAttributeValues": values,
                               "ReturnValues": "ALL_NEW", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
    if names:
        request["ExpressionAttributeNames"] = names
    try:
        response = ddb.client().update_item(**request)
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


def set_password(login: str, password_hash: str, status: str | None = None) -> None:
    """A new password (change, reset, the password login added back): the failure window and any lock start
    afresh."""
    expression = "SET password_hash = :h, failed_attempts = :zero, locked_until = :zero, lock_count = :zero"
    values = {":h": s(password_hash), ":zero": n(0)}
    if status:
        expression += ", #status = :status"
        values[":status"] = s(status)
    applied, _ = conditional_update(ddb.table_name(Credential), {"login": s(login)}, expression,
                                    "attribute_exists(login)", values, {"#status": "status"} if status else None)
    if not applied:
        raise UnknownLogin()


def set_status(login: str, status: str) -> None:
    applied, _ = conditional_update(ddb.table_name(Credential), {"login": s(login)}, "SET #status = :status",
                                    "attribute_exists(login)", {":status": s(status)}, {"#status": "status"})
    if not applied:
        raise UnknownLogin()


def disable_credential(login: str) -> Credential:
    applied, item = conditional_update(ddb.table_name(Credential), {"login": s(login)}, "SET #status = :disabled",
                                       "attribute_exists(login)", {":disabled": s("disabled")}, {"#status": "status"})
    if not applied:
        raise UnknownLogin()
    return Credential.from_raw_data(item)


# --- contact ----------------------------------------------------------------------------------------------

def save_contact(subject: str, mobile: str) -> None:
    Contact(subject_key(subject), "CONTACT", mobile=mobile).save()


def contact(subject: str) -> str | None:
    try:
        return str(Contact.get(subject_key(subject), "CONTACT", consistent_read=True).mobile)
    except Contact.DoesNotExist:
        return None


# --- sessions: families and refresh tokens ------------------------------------------------------------------

def start_session(family: Family, first: Session) -> None:
    ddb.transact_write([ddb.put_new(family), ddb.put_new(first)])


def refresh_token(token_hash: str) -> Session | None:
    try:
        return Session.get(token_hash, consistent_read=True)
    except Session.DoesNotExist:
        return None


def family_and_revocation(subject: str, session_id: str) -> tuple[Family | None, revocation.State]:
    """The family and the subject's revocation state, in one consistent BatchGetItem."""
    table = ddb.table_name(Family)
    family_key = {"pk": s(subject_key(subject)), "sk": s(f"FAM#{session_id}")}
    found = ddb.batch_get({table: [family_key, revocation.key(subject)]})[table]
    family = next((Family.from_raw_data(i) for i in found if i["sk"]["S"].startswith("FAM#")), None)
    state = revocation.parse(next((i for i in found if i["pk"]["S"].startswith(revocation.PREFIX)), None))
    return family, state


def rotate(old: Session, new: Session, family: Family, now_ms: int) -> None:
    """Exchange a refresh token for the next generation: the old one marked used (only if it was not),
    the new one stored, the family moved on (only if still active at that generation), all or nothing."""
    family_table = ddb.table_name(Family)
    items = [
        {"Update": {"TableName": ddb.table_name(Session), "Key": {"token_hash": s(old.token_hash)},
                    "UpdateExpression": "SET used_at = :now", "ConditionExpression": "attribute_not_exists(used_at)",
                    "ExpressionAttributeValues": {":now": n(now_ms)}}},
        ddb.put_new(new),
        {"Update": {"TableName": family_table,
                    "Key": {"pk": s(family.pk), "sk": s(family.sk)},
                    "UpdateExpression": "SET generation = :next",
                    "ConditionExpression": "#status = :active AND generation = :seen",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":next": n(int(family.generation) + 1), ":active": s("active"),
                                                  ":seen": n(int(family.generation))}}},
    ]
    try:
        ddb.transact_write(items)
    except ddb.TransactionCancelled as exc:
        failed = exc.failed()
        if 0 in failed or exc.conflict:
            raise Reused() from exc
        raise FamilyEnded() from exc


def revoke_family(subject: str, session_id: str, now_ms: int, remember_ms: int) -> None:
    """End one session family: its refresh tokens stop at once (the family's status), its access tokens at
    the authorizer's next cache miss (the sid in the subject's revocation item)."""
    revoke = _revoke_update(subject, session_id, now_ms)
    family = {"Update": {"TableName": ddb.table_name(Family),
                         "Key": {"pk": s(subject_key(subject)), "sk": s(f"FAM#{session_id}")},
                         "UpdateExpression": "SET #status = :revoked", "ConditionExpression": "attribute_exists(pk)",
                         "ExpressionAttributeNames": {"#status": "status"},
                         "ExpressionAttributeValues": {":revoked": s("revoked")}}}
    try:
        ddb.transact_write([revoke, family])
    except ddb.TransactionCancelled as exc:
        if 1 not in exc.failed() or exc.conflict:
            raise
        ddb.client().update_item(**revoke["Update"])  # no family (a token not made by a login): its sid alone
    prune_revocations(subject, now_ms - remember_ms)


def _revoke_update(subject: str, session_id: str, now_ms: int) -> dict[str, Any]:
    return {"Update": {"TableName": ddb.table_name(Family), "Key": revocation.key(subject),
                       "UpdateExpression": "ADD revoked_sids :sid",
                       "ExpressionAttributeValues": {":sid": {"SS": [revocation.entry(session_id, now_ms)]}}}}


def prune_revocations(subject: str, older_than_ms: int) -> None:
    """Forget revoked families whose access tokens have all expired (keeps the authorizer's item small)."""
    response = ddb.client().get_item(TableName=ddb.table_name(Family), Key=revocation.key(subject),
                                     ConsistentRead=True, ProjectionExpression="revoked_sids")
    entries = (response.get("Item", {}).get("revoked_sids") or {}).get("SS", [])
    stale = [e for e in entries if int(e.rpartition("@")[2] or 0) < older_than_ms]
    if stale:
        ddb.client().update_item(TableName=ddb.table_name(Family), Key=revocation.key(subject),
                                 UpdateExpression="DELETE revoked_sids :stale",
                                 ExpressionAttributeValues={":stale": {"SS": stale}})


def revoke_all(subject: str, now_ms: int) -> None:
    """Every token issued to the subject before now is refused (access tokens at the authorizer's next cache
    miss, refresh tokens at once: their family started before)."""
    conditional_update(ddb.table_name(Family), revocation.key(subject), "SET revoked_before = :now",
                       "attribute_not_exists(revoked_before) OR revoked_before < :now", {":now": n(now_ms)})


def families(subject: str) -> list[Family]:
    return list(Family.query(subject_key(subject), Family.sk.startswith("FAM#"), consistent_read=True))


# --- devices ----------------------------------------------------------------------------------------------

def device(subject: str, server_id: str) -> Device | None:
    try:
        return Device.get(subject_key(subject), f"DEV#{server_id}", consistent_read=True)
    except Device.DoesNotExist:
        return None


def bind_device(new: Device, limit: int) -> bool:
    """Bind a device, counting it against the limit in the same transaction. False if it was bound already;
    DeviceLimit when the customer has `limit` devices."""
    count_key = {"pk": s(new.pk), "sk": s("DEVICES")}
    items = [
        {"Update": {"TableName": ddb.table_name(DeviceCount), "Key": count_key, "UpdateExpression": "ADD bound :one",
                    "ConditionExpression": "attribute_not_exists(bound) OR bound < :limit",
                    "ExpressionAttributeValues": {":one": n(1), ":limit": n(limit)}}},
        ddb.put_new(new),
    ]
    try:
        ddb.transact_write(items)
    except ddb.TransactionCancelled as exc:
        if 1 in exc.failed():
            return False
        if 0 in exc.failed() and not exc.conflict:
            raise DeviceLimit() from exc
        raise
    return True


def unbind_device(subject: str, server_id: str) -> None:
    items = [
        {"Delete": {"TableName": ddb.table_name(Device),
                    "Key": {"pk": s(subject_key(subject)), "sk": s(f"DEV#{server_id}")},
                    "ConditionExpression": "attribute_exists(pk)"}},
        {"Update": {"TableName": ddb.table_name(DeviceCount),
                    "Key": {"pk": s(subject_key(subject)), "sk": s("DEVICES")},
                    "UpdateExpression": "ADD bound :minus", "ExpressionAttributeValues": {":minus": n(-1)}}},
    ]
    try:
        ddb.transact_write(items)
    except ddb.TransactionCancelled as exc:
        if 0 in exc.failed() and not exc.conflict:
            raise NotFound() from exc
        raise


def devices(subject: str) -> list[Device]:
    return list(Device.query(subject_key(subject), Device.sk.startswith("DEV#"), consistent_read=True))


def touch_device(found: Device, at: str) -> None:
    found.update(actions=[Device.last_seen_at.set(at)])


# --- one-time passwords -------------------------------------------------------------------------------------

def save_challenge(challenge: OtpChallenge | StepUpChallenge) -> None:
    challenge.save(condition=type(challenge).pk.does_not_exist())


def challenge(challenge_id: str) -> OtpChallenge | None:
    try:
        return OtpChallenge.get(f"OTP#{challenge_id}", "-", consistent_read=True)
    except OtpChallenge.DoesNotExist:
        return None


def take_otp_attempt(challenge_id: str, now_ms: int, limit: int) -> tuple[bool, OtpChallenge | None]:
    """Count one verification attempt while fewer than `limit` were made and the code has not expired:
    (True, the challenge after) or (False, the challenge as it is, None if there is none)."""
    applied, item = conditional_update(
        ddb.table_name(OtpChallenge), {"pk": s(f"OTP#{challenge_id}"), "sk": s("-")}, "ADD attempts :one",
        "attribute_exists(pk) AND attempts < :limit AND expires_ms > :now",
        {":one": n(1), ":limit": n(limit), ":now": n(now_ms)})
    return applied, (OtpChallenge.from_raw_data(item) if item else None)


def use_otp(challenge_id: str, now_ms: int) -> bool:
    """Mark the code used; False if it already was (single use, however many verify it at once)."""
    applied, _ = conditional_update(
        ddb.table_name(OtpChallenge), {"pk": s(f"OTP#{challenge_id}"), "sk": s("-")}, "SET used_at = :now",
        "attribute_exists(pk) AND attribute_not_exists(used_at)", {":now": n(now_ms)})
    return applied


def delivered(challenge_id: str, outcome: str) -> bool:
    """The outbox step is done (sent, suppressed or expired): the sealed code is removed, once."""
    applied, _ = conditional_update(
        ddb.table_name(OtpChallenge), {"pk": s(f"OTP#{challenge_id}"), "sk": s("-")},
        "SET delivery = :outcome REMOVE sealed", "delivery = :pending",
        {":outcome": s(outcome), ":pending": s("pending")})
    return applied


# --- step-up challenges -------------------------------------------------------------------------------------

def step_up(challenge_id: str) -> StepUpChallenge | None:
    try:
        return StepUpChallenge.get(f"STEPUP#{challenge_id}", "-", consistent_read=True)
    except StepUpChallenge.DoesNotExist:
        return None


def satisfy_step_up(challenge_id: str) -> bool:
    applied, _ = conditional_update(
        ddb.table_name(StepUpChallenge), {"pk": s(f"STEPUP#{challenge_id}"), "sk": s("-")},
        "SET #status = :satisfied", "#status = :open", {":satisfied": s("satisfied"), ":open": s("open")},
        {"#status": "status"})
    return applied
