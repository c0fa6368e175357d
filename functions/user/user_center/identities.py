"""Channel identities linked to one customer: WeChat (mini program, official account) and Alipay, beside the
password login. Each identity is claimed by one customer (`IDENT#<provider>#<keyed hash>` in CustomersTable,
put with attribute_not_exists), and a WeChat unionid too (`IDENT#wechat_union#<hash>`), so the same WeChat
person can never be two customers' — through either app. Linking someone else's identity is refused.

The customer's number of login methods is a counter on the customer item, changed in the same transaction as
each link or unlink and conditioned on staying at least one: unlinking the last way to log in is refused,
however many unlinks race. The password login counts as one method; unlinking it disables the password
credential in the authentication center, and adding it back sets a new password.

A channel login (POST /v1/user/identities/login) resolves the channel's code to the linked customer (by the
identity, or for WeChat by the unionid linked through the other app) and has the authentication center
start the session under its device rule.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from bank_common import client, config, crypto, ddb, ratelimit
from bank_common.ddb import n, s
from bank_common.errors import Conflict, NotFound
from bank_common.ratelimit import Hit, Rule
from user_center import channels, profile_events, store
from user_center.channels import ChannelIdentity
from user_center.models import Claim, Customer, LinkedIdentity
from user_center.schemas import IdentityListOut, IdentityOut

SECRET = ("USER_SECRET", "USER_SECRET_PARAM")
PASSWORD = "password"  # noqa: S105 - the password login method's id, not a password


class IdentityLinkedElsewhere(Conflict):
    code, message = "IDENTITY_LINKED_ELSEWHERE", "This identity belongs to another customer."


class LastLoginMethod(Conflict):
    code, message = "LAST_LOGIN_METHOD", "This is your last way to log in; link another before removing it."


class IdentityNotFound(NotFound):
    code, message = "IDENTITY_NOT_FOUND", "No such identity is linked to you."


class IdentityNotLinked(NotFound):
    code = "IDENTITY_NOT_LINKED"
    message = "This channel identity is not linked to a customer: log in with your password and link it."


def _hash(*parts: str) -> str:
    return crypto.keyed_hash(crypto.key(*SECRET, "channel-identity"), *parts)


def claim_key(provider: str, subject: str) -> str:
    return f"IDENT#{provider}#{_hash(provider, subject)}"


def union_key(union_id: str) -> str:
    return f"IDENT#wechat_union#{_hash('wechat_union', union_id)}"


def identity_id(provider: str, subject: str) -> str:
    return "id_" + hashlib.sha256(claim_key(provider, subject).encode()).hexdigest()[:16]


def _masked(subject: str) -> str:
    return f"{subject[:4]}…{subject[-4:]}" if len(subject) > 8 else "…"


def _customer_update(customer_id: str, delta: int, extra_set: str = "", condition: str = "",
                     values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The customer's login-method counter moved by `delta` (never below one)."""
    expression = "SET login_methods = if_not_exists(login_methods, :one) + :delta" + extra_set
    conditions = ["#status = :active"]
    if delta < 0:
        conditions.append("login_methods > :one")  # absent means 1: the condition fails, as it must
    if condition:
        conditions.append(condition)
    return {"Update": {"TableName": ddb.table_name(Customer), "Key": {"pk": s(store.customer_key(customer_id))},
                       "UpdateExpression": expression, "ConditionExpression": " AND ".join(conditions),
                       "ExpressionAttributeNames": {"#status": "status"},
                       "ExpressionAttributeValues": {":one": n(1), ":delta": n(delta), ":active": s("active"),
                                                     **(values or {})},
                       "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}


def link(customer_id: str, provider: str, code: str) -> IdentityOut:
    found = channels.identities().exchange(provider, code)
    key = claim_key(provider, found.subject)
    linked = LinkedIdentity(store.customer_key(customer_id), f"IDENT#{identity_id(provider, found.subject)}",
                            identity_id=identity_id(provider, found.subject), provider=provider, claim=key,
                            union_claim=union_key(found.union_id) if found.union_id else None,
                            display=_masked(found.subject), linked_at=datetime.now(UTC).isoformat())
    now = datetime.now(UTC).isoformat()
    items = [ddb.put_new(Claim(key, customer_id=customer_id, created_at=now)), ddb.put_new(linked),
             _customer_update(customer_id, +1)]
    if found.union_id:
        owner = store.claim_owner(union_key(found.union_id))
        if owner is not None and owner != customer_id:
            raise IdentityLinkedElsewhere()
        items.append(ddb.put_new(Claim(union_key(found.union_id), customer_id=customer_id, created_at=now))
                     if owner is None else store.claim_check(union_key(found.union_id), customer_id))
    try:
        ddb.transact_write(items)
    except ddb.TransactionCancelled as exc:
        if exc.conflict:
            raise
        if 2 in exc.failed():
            raise NotFound("No such customer.", code="CUSTOMER_NOT_FOUND") from exc
        if store.claim_owner(key) == customer_id:
            return _out(store.linked_identity(customer_id, linked.identity_id) or linked)  # linked already
        raise IdentityLinkedElsewhere() from exc
    profile_events.profile_changed(customer_id)  # its channels
    return _out(linked)


def _out(linked: LinkedIdentity) -> IdentityOut:
    return IdentityOut(identity_id=linked.identity_id, provider=linked.provider, display=linked.display,
                       linked_at=linked.linked_at)


def listed(customer_id: str) -> IdentityListOut:
    customer = store.get_customer(customer_id)
    if customer is None:
        raise IdentityNotFound()
    items = [_out(i) for i in store.linked_identities(customer_id)]
    if customer.password_login is not False:
        items.insert(0, IdentityOut(identity_id=PASSWORD, provider=PASSWORD,
                                    display=f"{customer.mobile[:3]}****{customer.mobile[-4:]}",
                                    linked_at=customer.created_at))
    return IdentityListOut(items=items)


def unlink(customer_id: str, identity: str) -> None:
    if identity == PASSWORD:
        return _unlink_password(customer_id)
    linked = store.linked_identity(customer_id, identity)
    if linked is None:
        raise IdentityNotFound()
    items = [_customer_update(customer_id, -1), ddb.delete(linked),
             {"Delete": {"TableName": ddb.table_name(Claim), "Key": {"pk": s(linked.claim)},
                         "ConditionExpression": "customer_id = :me",
                         "ExpressionAttributeValues": {":me": s(customer_id)}}}]
    others = [i for i in store.linked_identities(customer_id) if i.identity_id != identity]
    if linked.union_claim and not any(i.union_claim == linked.union_claim for i in others):
        items.append({"Delete": {"TableName": ddb.table_name(Claim), "Key": {"pk": s(linked.union_claim)}}})
    try:
        ddb.transact_write(items)
    except ddb.TransactionCancelled as exc:
        if 0 in exc.failed() and not exc.conflict:
            raise LastLoginMethod() from exc
        raise
    profile_events.profile_changed(customer_id)


def _unlink_password(customer_id: str) -> None:
    customer = store.get_customer(customer_id)
    if customer is None:
        raise IdentityNotFound()
    if customer.password_login is not False:
        try:
            ddb.transact_write([_customer_update(customer_id, -1, ", password_login = :no",
                                                 "(attribute_not_exists(password_login) OR password_login = :yes)",
                                                 {":no": {"BOOL": False}, ":yes": {"BOOL": True}})])
        except ddb.TransactionCancelled as exc:
            if exc.conflict:
                raise
            raise LastLoginMethod() from exc
    # Converges: a lost answer is repaired by the same request again (the credential call is idempotent).
    client.call("auth", "set_password_login", {"customer_id": customer_id, "enabled": False})


def relink_password(customer_id: str, password: str) -> IdentityOut:
    """Add the password login back (a customer who unlinked it, logged in through a channel)."""
    customer = store.get_customer(customer_id)
    if customer is None:
        raise IdentityNotFound()
    client.call("auth", "set_password_login", {"customer_id": customer_id, "enabled": True, "password": password})
    if customer.password_login is False:
        try:
            ddb.transact_write([_customer_update(customer_id, +1, ", password_login = :yes", "password_login = :no",
                                                 {":no": {"BOOL": False}, ":yes": {"BOOL": True}})])
        except ddb.TransactionCancelled as exc:
            if exc.conflict:
                raise
    return IdentityOut(identity_id=PASSWORD, provider=PASSWORD,
                       display=f"{customer.mobile[:3]}****{customer.mobile[-4:]}", linked_at=customer.created_at)


def login_rules() -> Rule:
    return Rule("channel-login-ip", int(config.env("REGISTER_IP_LIMIT_PER_10MIN", "20")) * 5, seconds=600)


def login(provider: str, code: str, channel: str, fingerprint: str, device: dict[str, str] | None,
          source_ip: str) -> dict[str, Any]:
    """A channel login: the code's identity → the linked customer → a session from the auth center (or its
    DEVICE_VERIFICATION_REQUIRED for a new device, passed on as it is)."""
    ratelimit.check("CUSTOMER_DATA_TABLE", [Hit(login_rules(), source_ip)])
    found: ChannelIdentity = channels.identities().exchange(provider, code)
    customer_id = store.claim_owner(claim_key(provider, found.subject))
    if customer_id is None and found.union_id:
        customer_id = store.claim_owner(union_key(found.union_id))
    customer = store.get_customer(customer_id) if customer_id else None
    if customer is None or customer.status != "active":
        raise IdentityNotLinked()
    return client.call("auth_sessions", "start_session", {"customer_id": customer.customer_id, "channel": channel,
                                                 "fingerprint": fingerprint, "device": device or {},
                                                 "source_ip": source_ip})
