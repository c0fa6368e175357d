"""Folding the journal: postings that did not take their account's lock (credits to hot accounts, every
posting of the bank's GL accounts, a credit whose in-place write lost a race) become balance and statement.

A fold takes an account's oldest postings (up to FOLD_BATCH, in journal order), and in one transaction moves
the account from version v to v + k, adds their sum to the balance, writes entries v+1 .. v+k with exact
running balances, and deletes those postings (each only if still there). It takes the account's lock like any
debit, so balance_after stays exact and statement order is the order of folding (docs/decisions/0021).
Postings to an account closed meanwhile go to the bank's suspense account instead, for ops to return.

Triggered by the journal table's stream (every new posting), and by a schedule that folds whatever is left
(a stream batch that failed past its retries, or a posting written while nothing listened).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

from account_center import store
from account_center.models import Account, JournalPosting, LedgerEntry
from account_center.movements import now_iso
from account_center.postings import GL_SUSPENSE, is_bank
from bank_common import ddb, obs, pii
from bank_common.ddb import n, s

FOLD_BATCH = 40  # one account update + an entry and a delete per posting: within 100 items per transaction
MAX_TRIES = 20


def fold_account(account_id: str) -> int:
    """Fold every posting waiting for this account; returns how many."""
    folded = 0
    for tries in range(MAX_TRIES):
        postings = store.pending_postings(account_id, FOLD_BATCH)
        if not postings:
            return folded
        account = store.get_account(account_id)
        try:
            store.write(_fold_items(account_id, account, postings))
        except ddb.TransactionCancelled:  # a debit or another fold moved the account first: read again
            time.sleep(random.uniform(0.001, 0.01) * (tries + 1))
            continue
        folded += len(postings)
    raise RuntimeError(f"the journal of {pii.mask_text(account_id)} could not be folded in {MAX_TRIES} tries")


def _fold_items(account_id: str, account: Account | None, postings: list[JournalPosting]) -> list[dict[str, Any]]:
    at = now_iso(datetime.now(UTC))
    if account is not None and account.status == "closed" or account is None and not is_bank(account_id):
        return _to_suspense(account_id, postings, at)
    items = [store.delete_posting(p) for p in postings]
    total = sum(int(p.amount) for p in postings)
    if account is None:  # a bank GL account's first posting: it is created by its first fold
        account = Account(account_id, customer_id="BANK", account_type="GL", status="active", balance=0, held=0,
                          available=0, version=0, opened_at=at)
        created = Account(account_id, customer_id="BANK", account_type="GL", status="active", balance=total,
                          held=0, available=total, version=len(postings), opened_at=at)
        items.append(store.create_gl(created))
    else:
        items.append(_advance(account, total, len(postings)))
    balance, version = int(account.balance), int(account.version)
    for posting in postings:
        balance += int(posting.amount)
        version += 1
        items.append(store.put(LedgerEntry(
            store.entry_pk(account_id), store.entry_sk(version), transfer_id=posting.transfer_id, kind=posting.kind,
            direction="credit" if int(posting.amount) > 0 else "debit", amount=abs(int(posting.amount)),
            balance_after=balance, counterparty=posting.counterparty, memo=posting.memo,
            created_at=posting.created_at, posted_at=at)))
    return items


def _advance(account: Account, total: int, count: int) -> dict[str, Any]:
    version = int(account.version)
    return {"Update": {
        "TableName": ddb.table_name(Account),
        "Key": {"account_id": s(account.account_id)},
        "UpdateExpression": "SET balance = balance + :t, available = available + :t, version = :v1",
        "ConditionExpression": "version = :v",
        "ExpressionAttributeValues": {":t": n(total), ":v": n(version), ":v1": n(version + count)},
    }}


def _to_suspense(account_id: str, postings: list[JournalPosting], at: str) -> list[dict[str, Any]]:
    """Credits that reached an account after it closed are the bank's to return: they move to suspense."""
    obs.log().warning("postings to a closed account moved to suspense",
                      extra={"account": pii.mask_text(account_id), "postings": len(postings)})
    items = []
    for posting in postings:
        items.append(store.delete_posting(posting))
        items.append(store.put(JournalPosting(
            GL_SUSPENSE, store.journal_sk(at), amount=posting.amount, transfer_id=posting.transfer_id,
            kind="suspense", counterparty=pii.mask_text(account_id),
            memo=f"for closed account: {posting.memo}"[:140], created_at=posting.created_at)))
    return items


def from_stream(event: dict[str, Any]) -> dict[str, Any]:
    """A batch of the journal's stream: fold each account that got a posting; a failed account's first
    record is reported, so the stream retries from there (ReportBatchItemFailures)."""
    first_seen: dict[str, str] = {}
    for record in event.get("Records") or []:
        if record.get("eventName") != "INSERT":
            continue
        account_id = record["dynamodb"]["Keys"]["account_id"]["S"]
        first_seen.setdefault(account_id, str(record["dynamodb"].get("SequenceNumber", "")))
    failures = []
    for account_id, sequence in first_seen.items():
        try:
            fold_account(account_id)
        except Exception:  # noqa: BLE001 - reported for the stream to retry, and alarmed on
            obs.log().exception("fold failed", extra={"account": pii.mask_text(account_id)})
            obs.emit_failure()
            failures.append({"itemIdentifier": sequence})
    return {"batchItemFailures": sorted(failures, key=lambda f: f["itemIdentifier"])[:1]}


SWEEP_PASSES = 3


def sweep() -> dict[str, Any]:
    """Fold every account with postings left in the journal (the scheduled safety net). A pass can add
    postings (to suspense, for a closed account): a few passes take those too."""
    accounts: set[str] = set()
    folded = 0
    for _ in range(SWEEP_PASSES):
        cursor: dict[str, Any] | None = None
        found_now: set[str] = set()
        while True:
            found, cursor = store.journal_accounts(cursor, 500)
            found_now |= found
            if cursor is None:
                break
        if not found_now:
            break
        accounts |= found_now
        folded += sum(fold_account(a) for a in sorted(found_now))
    return {"accounts": len(accounts), "folded": folded}
