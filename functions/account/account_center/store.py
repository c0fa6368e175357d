"""Data access of the account center: the only module that knows its tables' layout.

Money operations use one BatchGetItem (`load`: the accounts, holds, limit definitions and usage, the
signature in force) and one TransactWriteItems (`commit`), which also puts the operation's idempotency
record; the item shapes come from the pynamodb models. Everything else (statements, pages for the
reconciliation, the journal, the sweepers' queries) is here too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from account_center.models import Account, AccountCount, Hold, JournalPosting, LedgerEntry, LedgerTransaction
from bank_common import agreements, ddb, limits
from bank_common.ddb import Cancellation, n, s
from bank_common.errors import ApiError

HOLD_SHARDS = 8  # active holds spread over this many index partitions (the sweeper queries each)


def entry_pk(account_id: str) -> str:
    return f"ACC#{account_id}"


def entry_sk(version: int) -> str:
    return f"E#{version:012d}"


def txn_pk(scoped_key: str) -> str:
    return f"TXN#{scoped_key}"


def count_key(customer_id: str, account_type: str) -> str:
    return f"COUNT#{customer_id}#{account_type}"


def journal_sk(created_at: str) -> str:
    """Arrival order (the time the movement was accepted), made unique."""
    return f"J#{created_at}#{uuid.uuid4().hex[:12]}"


def shard_of(hold_id: str, prefix: str) -> str:
    return f"{prefix}#{int(hold_id[-4:], 16) % HOLD_SHARDS}"


# --- the batched read ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reads:
    """Everything one money operation decides on, fetched in one BatchGetItem."""

    accounts: tuple[str, ...] = ()
    usage: tuple[str, ...] = ()
    definitions: tuple[str, ...] = ()
    signatures: tuple[str, ...] = ()  # customer ids whose e-account agreement signature is read
    holds: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    accounts: dict[str, Account]  # by id; missing ones are absent
    usage: dict[str, dict[str, Any]]  # limit-usage items by key (wire format); absent ones never used
    definitions: limits.Definitions
    signatures: dict[str, dict[str, Any]]  # by customer id (wire format)
    holds: dict[str, Hold]


def _keys_by_model(reads: Reads) -> list[tuple[Any, list[dict[str, Any]]]]:
    definitions = [{"pk": s(k), "sk": s(limits.CURRENT)} for k in limits.keys_to_read(tuple(dict.fromkeys(
        reads.definitions)))]
    found = [(Account, [{"account_id": s(a)} for a in dict.fromkeys(reads.accounts)]),
             (Hold, [{"hold_id": s(h)} for h in dict.fromkeys(reads.holds)]),
             (limits.LimitUsage, [{"pk": s(k)} for k in dict.fromkeys(reads.usage)]),
             (limits.LimitDefinition, definitions),
             (agreements.Signature, [agreements.signature_key(c) for c in dict.fromkeys(reads.signatures)])]
    return [(model, keys) for model, keys in found if keys]  # only the tables read: others may be unnamed here


def batch_request(reads: Reads) -> dict[str, list[dict[str, Any]]]:
    """The BatchGetItem keys of a money operation's read, by table."""
    return {ddb.table_name(model): keys for model, keys in _keys_by_model(reads)}


def load(reads: Reads, *, consistent: bool = False) -> Snapshot:
    """One BatchGetItem across the account center's tables and the contract center's (DESIGN 3, 5); with
    `consistent`, one TransactGetItems instead: every item as of the same moment (movements.PayeeRefused)."""
    keys = _keys_by_model(reads)
    request = {ddb.table_name(model): found for model, found in keys}
    fetch = ddb.transact_get if consistent else ddb.batch_get
    found = fetch(request) if request else {}
    read = {model for model, _ in keys}
    fetched = [k["pk"]["S"] for model, ks in keys if model is limits.LimitDefinition for k in ks]

    def of(model: Any) -> list[dict[str, Any]]:
        return found.get(ddb.table_name(model), []) if model in read else []

    return Snapshot(
        {i["account_id"]["S"]: Account.from_raw_data(i) for i in of(Account)},
        {i["pk"]["S"]: i for i in of(limits.LimitUsage)},
        limits.Definitions(limits.with_cached(reads.definitions, fetched,
                                              {i["pk"]["S"]: i for i in of(limits.LimitDefinition)})),
        {i["customer_id"]["S"]: i for i in of(agreements.Signature)},
        {i["hold_id"]["S"]: Hold.from_raw_data(i) for i in of(Hold)},
    )


# --- transaction items ---------------------------------------------------------------------------------

Explain = Callable[[dict[str, Any] | None], ApiError | None]


@dataclass(frozen=True)
class Part:
    """One item of a money transaction, which side of the movement it belongs to, and what its failed
    condition means (`explain(old item or None)`: the business refusal, or None for a lost race)."""

    item: dict[str, Any]
    side: str = "other"  # payer | payee | other: refusals are reported payer first, payee last
    explain: Explain | None = None
    account_id: str | None = None  # the account a locked update guards (to tell whose race was lost)


def locked_update(account: Account, delta: int, *, min_available: int | None = None,
                  max_balance_before: int | None = None, statuses: tuple[str, ...] = ("active",),
                  held_delta: int = 0) -> dict[str, Any]:
    """Change the balance in place under the account's optimistic lock (version = the one read), which also
    numbers its next statement entry. `held_delta` (a capture) takes a hold's reservation off at once."""
    version = int(account.version)
    values = {":d": n(delta), ":v": n(version), ":v1": n(version + 1), ":avail": n(delta - held_delta)}
    names = {"#st": "status"}
    status_values = {f":st{i}": s(status) for i, status in enumerate(statuses)}
    values |= status_values
    conditions = ["version = :v", f"#st IN ({', '.join(status_values)})"]
    if min_available is not None:
        conditions.append("available >= :need")
        values[":need"] = n(min_available)
    if max_balance_before is not None:
        conditions.append("balance <= :maxb")
        values[":maxb"] = n(max_balance_before)
    update = "SET balance = balance + :d, available = available + :avail, version = :v1"
    if held_delta:
        update += ", held = held - :held"
        values[":held"] = n(-held_delta)
        conditions.append("held >= :held")
    return {"Update": {
        "TableName": ddb.table_name(Account),
        "Key": {"account_id": s(account.account_id)},
        "UpdateExpression": update,
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


def reserve_update(account_id: str, amount: int) -> dict[str, Any]:
    """A hold: `available` down and `held` up by amount, if available covers it and the account is active.
    No lock: it changes no balance and writes no entry, so it never races with credits."""
    return {"Update": {
        "TableName": ddb.table_name(Account),
        "Key": {"account_id": s(account_id)},
        "UpdateExpression": "SET held = held + :a, available = available - :a",
        "ConditionExpression": "available >= :a AND #st = :active",
        "ExpressionAttributeNames": {"#st": "status"},
        "ExpressionAttributeValues": {":a": n(amount), ":active": s("active")},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


def unreserve_update(account_id: str, amount: int) -> dict[str, Any]:
    """A release: the hold's reservation back into `available` (whatever the account's status)."""
    return {"Update": {
        "TableName": ddb.table_name(Account),
        "Key": {"account_id": s(account_id)},
        "UpdateExpression": "SET held = held - :a, available = available + :a",
        "ConditionExpression": "held >= :a",
        "ExpressionAttributeValues": {":a": n(amount)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


def put(model: Any) -> dict[str, Any]:
    """Put a new item (entries, journal postings: unique keys)."""
    return ddb.put_new(model)


def hold_transition(hold_id: str, to_status: str, *, now: datetime, changes: dict[str, Any],
                    unexpired: bool = False) -> dict[str, Any]:
    """active → captured | released, with `changes` (attribute → wire value); the hold leaves the sweeper's
    index. With `unexpired`, only before its expiry (a capture)."""
    names = {"#st": "status"} | {f"#c{i}": k for i, k in enumerate(changes)}
    values = {":active": s("active"), ":to": s(to_status), ":now": s(now.isoformat())} | \
        {f":c{i}": v for i, v in enumerate(changes.values())}
    sets = ["#st = :to", "updated_at = :now"] + [f"#c{i} = :c{i}" for i in range(len(changes))]
    condition = "#st = :active"
    if unexpired:
        condition += " AND expires_epoch > :epoch"
        values[":epoch"] = n(int(now.timestamp()))
    return {"Update": {
        "TableName": ddb.table_name(Hold),
        "Key": {"hold_id": s(hold_id)},
        "UpdateExpression": "SET " + ", ".join(sets) + " REMOVE active_shard, outbox_shard",
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


# --- commit --------------------------------------------------------------------------------------------

@dataclass
class Duplicate(Exception):
    """The operation's idempotency record already exists (the item as it was, wire format, or None when an
    emulator did not return it)."""

    old_item: dict[str, Any] | None


@dataclass
class Cancelled(Exception):
    """The transaction was cancelled: each part with why it failed (None: that part was fine)."""

    failures: list[tuple[Part, Cancellation | None]] = field(default_factory=list)

    def failed(self) -> list[tuple[Part, Cancellation]]:
        return [(p, r) for p, r in self.failures if r is not None]


def commit(record: dict[str, Any] | None, parts: list[Part]) -> None:
    """Write an operation atomically: its idempotency record (put only if absent) first, then its parts in
    the order given (payer's side first). Raises Duplicate or Cancelled."""
    items = ([record] if record else []) + [p.item for p in parts]
    try:
        ddb.transact_write(items)
    except ddb.TransactionCancelled as cancelled:
        reasons: list[Cancellation | None] = [r if r.code not in ("None", "") else None for r in cancelled.reasons]
        reasons += [None] * (len(items) - len(reasons))  # a bare TransactionConflict names no item
        if record is not None:
            first = reasons.pop(0)
            if first is not None and first.code == "ConditionalCheckFailed":
                raise Duplicate(first.old_item) from cancelled
        raise Cancelled(list(zip(parts, reasons, strict=True))) from cancelled


def put_unless_exists(model: Any) -> dict[str, Any] | None:
    """Put an outcome record alone (a refusal) unless one exists; returns the existing one (wire format)."""
    try:
        ddb.transact_write([ddb.put_new(model)])
    except ddb.TransactionCancelled as cancelled:
        old = cancelled.reasons[0].old_item if cancelled.reasons else None
        if old:
            return dict(old)
        found = type(model).get(*_keys(model), consistent_read=True)  # some emulators omit ALL_OLD
        return dict(found.serialize())
    return None


def _keys(model: Any) -> tuple[Any, ...]:
    hash_key = getattr(model, type(model)._hash_keyname)
    range_name = type(model)._range_keyname
    return (hash_key, getattr(model, range_name)) if range_name else (hash_key,)


def record_of(pk: str) -> LedgerTransaction | None:
    try:
        return LedgerTransaction.get(pk, "TXN", consistent_read=True)
    except LedgerTransaction.DoesNotExist:
        return None


def record_by_transfer_id(transfer_id: str) -> LedgerTransaction | None:
    """The completed movement with this transfer id (the index is eventually consistent: ops' reversals)."""
    for key in LedgerTransaction.by_transfer_id.query(transfer_id, limit=1):
        return record_of(key.pk)
    return None


def fact_recorded(pk: str) -> bool:
    """Whether a once-per-customer fact (FACT#..., e.g. the first deposit announced) is recorded."""
    return "Item" in ddb.client().get_item(TableName=ddb.table_name(LedgerTransaction), ConsistentRead=True,
                                           Key={"pk": s(pk), "sk": s("FACT")}, ProjectionExpression="pk")


def record_fact(pk: str) -> None:
    ddb.client().put_item(TableName=ddb.table_name(LedgerTransaction), Item={"pk": s(pk), "sk": s("FACT")})


# --- accounts ------------------------------------------------------------------------------------------

def get_account(account_id: str) -> Account | None:
    try:
        return Account.get(account_id, consistent_read=True)
    except Account.DoesNotExist:
        return None


def accounts_of(customer_id: str) -> list[Account]:
    return list(Account.by_customer.query(customer_id, scan_index_forward=False))


class CountCapReached(Exception):
    pass


def create_account(account: Account, cap: int) -> None:
    """The account and one more of its type for the customer, under the type's cap, in one transaction."""
    counter = {"Update": {
        "TableName": ddb.table_name(AccountCount),
        "Key": {"account_id": s(count_key(account.customer_id, account.account_type))},
        "UpdateExpression": "ADD opened :one",
        "ConditionExpression": "attribute_not_exists(opened) OR opened < :cap",
        "ExpressionAttributeValues": {":one": n(1), ":cap": n(cap)},
    }}
    try:
        ddb.transact_write([counter, ddb.put_new(account)])
    except ddb.TransactionCancelled as exc:
        raise CountCapReached() from exc


def account_change(account: Account, condition: str, sets: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """An update of an account's status fields under a condition on what was read (ops' freeze, close, ...)."""
    names = {"#st": "status"} | {f"#f{i}": k for i, k in enumerate(sets)}
    all_values = values | {f":f{i}": v for i, v in enumerate(sets.values())}
    return {"Update": {
        "TableName": ddb.table_name(Account),
        "Key": {"account_id": s(account.account_id)},
        "UpdateExpression": "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(sets))),
        "ConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": all_values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


def uncount(customer_id: str, account_type: str) -> dict[str, Any]:
    """A closed account frees its slot under the type's cap."""
    return {"Update": {
        "TableName": ddb.table_name(AccountCount),
        "Key": {"account_id": s(count_key(customer_id, account_type))},
        "UpdateExpression": "ADD opened :minus",
        "ExpressionAttributeValues": {":minus": n(-1)},
    }}


def change_account(item: dict[str, Any], *extra: dict[str, Any]) -> Account | None:
    """Apply an account change (and what goes with it); the account as it was when its condition failed,
    or None when it applied."""
    try:
        ddb.transact_write([item, *extra])
    except ddb.TransactionCancelled as cancelled:
        old = cancelled.reasons[0].old_item if cancelled.reasons else None
        if cancelled.reasons and cancelled.reasons[0].code == "ConditionalCheckFailed":
            return Account.from_raw_data(old) if old else get_account(item["Update"]["Key"]["account_id"]["S"])
        raise
    return None


def statement(account_id: str, limit: int, before: int | None) -> tuple[list[LedgerEntry], str | None]:
    """Entries newest first; `before` (an entry id, the previous page's cursor) continues below it."""
    start = {"pk": {"S": entry_pk(account_id)}, "sk": {"S": entry_sk(before)}} if before is not None else None
    result = LedgerEntry.query(entry_pk(account_id), scan_index_forward=False, limit=limit,
                               last_evaluated_key=start, consistent_read=True)
    entries = list(result)
    last = result.last_evaluated_key
    return entries, (str(int(last["sk"]["S"][2:])) if last else None)


def account_page(cursor: dict[str, Any] | None, limit: int) -> tuple[list[Account], dict[str, Any] | None]:
    """One page of account items (counters skipped) in table order, and the cursor after it (None at the end)."""
    kwargs: dict[str, Any] = {"TableName": ddb.table_name(Account), "Limit": limit, "ConsistentRead": True}
    if cursor:
        kwargs["ExclusiveStartKey"] = cursor
    page = ddb.client().scan(**kwargs)
    accounts = [Account.from_raw_data(item) for item in page.get("Items", [])
                if not item["account_id"]["S"].startswith("COUNT#")]
    return accounts, page.get("LastEvaluatedKey")


def entry(account_id: str, version: int) -> LedgerEntry | None:
    """The account's entry number `version` (written with the balance it records, never changed)."""
    try:
        return LedgerEntry.get(entry_pk(account_id), entry_sk(version), consistent_read=True)
    except LedgerEntry.DoesNotExist:
        return None


# --- the journal ---------------------------------------------------------------------------------------

def pending_postings(account_id: str, limit: int) -> list[JournalPosting]:
    """The account's oldest postings still to fold (consistent: a fold must see what committed before it)."""
    return list(JournalPosting.query(account_id, limit=limit, consistent_read=True))


def journal_accounts(cursor: dict[str, Any] | None, limit: int) -> tuple[set[str], dict[str, Any] | None]:
    """Accounts with postings in the journal (a page of a scan; the journal holds only unfolded postings)."""
    kwargs: dict[str, Any] = {"TableName": ddb.table_name(JournalPosting), "Limit": limit,
                              "ProjectionExpression": "account_id"}
    if cursor:
        kwargs["ExclusiveStartKey"] = cursor
    page = ddb.client().scan(**kwargs)
    return {item["account_id"]["S"] for item in page.get("Items", [])}, page.get("LastEvaluatedKey")


def delete_posting(posting: JournalPosting) -> dict[str, Any]:
    """Remove a folded posting; only if it is still there (another fold may have taken it)."""
    return {"Delete": {
        "TableName": ddb.table_name(JournalPosting),
        "Key": {"account_id": s(posting.account_id), "sk": s(posting.sk)},
        "ConditionExpression": "attribute_exists(sk)",
    }}


def create_gl(account: Account) -> dict[str, Any]:
    """A bank GL account on its first fold (put only if absent)."""
    return ddb.put_new(account)


def write(items: list[dict[str, Any]]) -> None:
    """A transaction of items whose conditions only fail on races (folds): raises TransactionCancelled."""
    ddb.transact_write(items)


# --- holds ---------------------------------------------------------------------------------------------

def get_hold(hold_id: str) -> Hold | None:
    try:
        return Hold.get(hold_id, consistent_read=True)
    except Hold.DoesNotExist:
        return None


def expired_holds(now: datetime, limit: int) -> list[str]:
    """Ids of active holds whose expiry has passed (each shard of the sparse index)."""
    found: list[str] = []
    for shard in range(HOLD_SHARDS):
        for key in Hold.by_expiry.query(f"A#{shard}", Hold.expires_epoch <= int(now.timestamp()),
                                        limit=limit):
            found.append(key.hold_id)
    return found


def outbox(older_than_epoch: int, limit: int) -> list[str]:
    """Ids of outbound transfers accepted before this time and still not handed to the clearing adapter."""
    found: list[str] = []
    for shard in range(HOLD_SHARDS):
        for key in Hold.by_outbox.query(f"Q#{shard}", Hold.queued_epoch <= older_than_epoch, limit=limit):
            found.append(key.hold_id)
    return found


def hold_set(hold_id: str, changes: dict[str, Any]) -> dict[str, Any]:
    """A transaction item setting some of a hold's attributes (wire values)."""
    return {"Update": {
        "TableName": ddb.table_name(Hold),
        "Key": {"hold_id": s(hold_id)},
        "UpdateExpression": "SET " + ", ".join(f"#c{i} = :c{i}" for i in range(len(changes))),
        "ExpressionAttributeNames": {f"#c{i}": k for i, k in enumerate(changes)},
        "ExpressionAttributeValues": {f":c{i}": v for i, v in enumerate(changes.values())},
    }}


def mark_submitted(hold_id: str, now: datetime) -> bool:
    """queued → submitted (the clearing adapter took it); False when it was not queued any more."""
    try:
        ddb.transact_write([{"Update": {
            "TableName": ddb.table_name(Hold),
            "Key": {"hold_id": s(hold_id)},
            "UpdateExpression": "SET clearing_status = :sub, updated_at = :now REMOVE outbox_shard, queued_epoch",
            "ConditionExpression": "clearing_status = :queued",
            "ExpressionAttributeValues": {":sub": s("submitted"), ":queued": s("queued"),
                                          ":now": s(now.isoformat())},
        }}])
    except ddb.TransactionCancelled:
        return False
    return True


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
