"""Data access of the account center: the only module that knows its tables' layout.

Money movements use one BatchGetItem (the accounts) and one TransactWriteItems, which also puts the
idempotency record; the item shapes come from the pynamodb models.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from account_center.models import Account, AccountTypeClaim, LedgerEntry, LedgerTransaction
from bank_common import ddb
from bank_common.ddb import Cancellation, n, s
from bank_common.limits import LimitPlan, LimitUsage


def entry_pk(account_id: str) -> str:
    return f"ACC#{account_id}"


def entry_sk(version: int) -> str:
    return f"E#{version:012d}"


def txn_pk(scoped_key: str) -> str:
    return f"TXN#{scoped_key}"


@dataclass(frozen=True)
class Snapshot:
    """What a movement decides on, read in one round trip."""

    accounts: dict[str, Account]  # by id; missing ones are absent
    usage: dict[str, dict[str, Any]]  # limit-usage items by key (wire format); absent ones never used


def load(account_ids: list[str], usage_keys: list[str] = ()) -> Snapshot:  # type: ignore[assignment]
    """One BatchGetItem: the accounts a movement touches and the limit usage it would add to."""
    table = ddb.table_name(Account)
    request = {table: [{"account_id": s(a)} for a in dict.fromkeys(account_ids)]}
    usage_table = ddb.table_name(LimitUsage) if usage_keys else ""
    if usage_keys:
        request[usage_table] = [{"pk": s(k)} for k in dict.fromkeys(usage_keys)]
    found = ddb.batch_get(request)
    return Snapshot({item["account_id"]["S"]: Account.from_raw_data(item) for item in found[table]},
                    {item["pk"]["S"]: item for item in found.get(usage_table, [])})


def movement_record(scoped_key: str) -> LedgerTransaction | None:
    """The record a movement under this idempotency key left, if any (replays and error paths only)."""
    try:
        return LedgerTransaction.get(txn_pk(scoped_key), "TXN", consistent_read=True)
    except LedgerTransaction.DoesNotExist:
        return None


@dataclass(frozen=True)
class Posting:
    """One side of a movement on an account whose version was read: the entry it writes and the checks."""

    account: Account
    delta: int  # signed fen
    entry: LedgerEntry | None  # None for the bank's own GL accounts (no statement, no lock)
    min_available: int | None = None  # debit: available must be at least this
    max_balance_before: int | None = None  # Type III credit: balance cap


@dataclass(frozen=True)
class Movement:
    """Everything one movement writes, in one transaction. The payer's side comes first: its postings,
    then the limit usage, then the payee's postings, so when several conditions fail the payer's are
    reported first (and an emulator that stops at the first failure stops at the payer's)."""

    record: LedgerTransaction
    payer: list[Posting]
    payee: list[Posting]
    limits: LimitPlan | None
    response: dict[str, Any]


@dataclass
class Refused(Exception):
    """The movement's transaction was cancelled: why each of its parts failed (None: that part was fine)."""

    record: Cancellation | None
    payer: list[Cancellation | None]
    limits: list[Cancellation | None]
    payee: list[Cancellation | None]


def posting_update(p: Posting) -> dict[str, Any]:
    if p.entry is None:
        # The bank's GL account is hot (every deposit touches it); no lock, created on first use.
        return {"Update": {
            "TableName": ddb.table_name(Account),
            "Key": {"account_id": s(p.account.account_id)},
            "UpdateExpression": "ADD balance :d, available :d SET customer_id = if_not_exists(customer_id, :bank),"
                                " account_type = if_not_exists(account_type, :gl),"
                                " opened_at = if_not_exists(opened_at, :at), #st = if_not_exists(#st, :active)",
            "ExpressionAttributeNames": {"#st": "status"},
            "ExpressionAttributeValues": {":d": n(p.delta), ":bank": s("BANK"), ":gl": s("GL"),
                                          ":at": s(p.account.opened_at), ":active": s("active")},
        }}
    conditions = ["version = :v", "#st = :active"]
    version = int(p.account.version)
    values = {":d": n(p.delta), ":v": n(version), ":v1": n(version + 1),
              ":active": s("active")}
    if p.min_available is not None:
        conditions.append("available >= :need")
        values[":need"] = n(p.min_available)
    if p.max_balance_before is not None:
        conditions.append("balance <= :maxb")
        values[":maxb"] = n(p.max_balance_before)
    return {"Update": {
        "TableName": ddb.table_name(Account),
        "Key": {"account_id": s(p.account.account_id)},
        "UpdateExpression": "SET balance = balance + :d, available = available + :d, version = :v1",
        "ConditionExpression": " AND ".join(conditions),
        "ExpressionAttributeNames": {"#st": "status"},
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


def commit(movement: Movement) -> None:
    """Write a movement atomically (one TransactWriteItems), or raise Refused with each part's reason."""
    usage = movement.limits.items if movement.limits else []
    postings = movement.payer + movement.payee
    items = [ddb.put_new(movement.record), *(posting_update(p) for p in movement.payer), *usage,
             *(posting_update(p) for p in movement.payee), *(ddb.put_new(p.entry) for p in postings if p.entry)]
    try:
        ddb.transact_write(items)
    except ddb.TransactionCancelled as cancelled:
        reasons: list[Cancellation | None] = [r if r.code not in ("None", "") else None for r in cancelled.reasons]
        reasons += [None] * (len(items) - len(reasons))  # a bare TransactionConflict names no item
        at = 1
        payer, at = reasons[at:at + len(movement.payer)], at + len(movement.payer)
        limits, at = reasons[at:at + len(usage)], at + len(usage)
        payee = reasons[at:at + len(movement.payee)]
        raise Refused(reasons[0], payer, limits, payee) from cancelled


def get_account(account_id: str) -> Account | None:
    try:
        return Account.get(account_id, consistent_read=True)
    except Account.DoesNotExist:
        return None


def accounts_of(customer_id: str) -> list[Account]:
    return list(Account.by_customer.query(customer_id, scan_index_forward=False))


class AccountTypeTaken(Exception):
    pass


def create_account(account: Account) -> None:
    claim = AccountTypeClaim(f"CLAIM#{account.customer_id}#{account.account_type}",
                             owner_account=account.account_id)
    try:
        ddb.transact_write([ddb.put_new(claim), ddb.put_new(account)])
    except ddb.TransactionCancelled as exc:
        raise AccountTypeTaken() from exc


def statement(account_id: str, limit: int, before: int | None) -> tuple[list[LedgerEntry], str | None]:
    """Entries newest first; `before` (an entry id, the previous page's cursor) continues below it."""
    start = {"pk": {"S": entry_pk(account_id)}, "sk": {"S": entry_sk(before)}} if before is not None else None
    result = LedgerEntry.query(entry_pk(account_id), scan_index_forward=False, limit=limit,
                               last_evaluated_key=start, consistent_read=True)
    entries = list(result)
    last = result.last_evaluated_key
    return entries, (str(int(last["sk"]["S"][2:])) if last else None)


def account_page(cursor: dict[str, Any] | None, limit: int) -> tuple[list[Account], dict[str, Any] | None]:
    """One page of account items (claims skipped) in table order, and the cursor after it (None at the end)."""
    kwargs: dict[str, Any] = {"TableName": ddb.table_name(Account), "Limit": limit, "ConsistentRead": True}
    if cursor:
        kwargs["ExclusiveStartKey"] = cursor
    page = ddb.client().scan(**kwargs)
    accounts = [Account.from_raw_data(item) for item in page.get("Items", [])
                if not item["account_id"]["S"].startswith("CLAIM#")]
    return accounts, page.get("LastEvaluatedKey")


def entry(account_id: str, version: int) -> LedgerEntry | None:
    """The account's entry number `version` (written with the balance it records, never changed)."""
    try:
        return LedgerEntry.get(entry_pk(account_id), entry_sk(version), consistent_read=True)
    except LedgerEntry.DoesNotExist:
        return None
