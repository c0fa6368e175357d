"""Business rules of the account center, as plain functions (no HTTP, no DynamoDB details).

Every movement follows one shape (DESIGN 5): read the accounts the decision needs in one batch, decide,
write it all in one transaction; a lost race re-reads and tries again, a failed business condition becomes
a clear error, a duplicate key becomes a replay of the first response.
"""

from __future__ import annotations

import json
import random
import secrets
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from account_center import store
from account_center.models import Account, LedgerEntry, LedgerTransaction
from account_center.schemas import (
    AccountOut,
    DepositIn,
    DepositOut,
    StatementEntry,
    StatementPage,
    TransferIn,
    TransferOut,
)
from bank_common import idempotency, limits, pii, schema
from bank_common.errors import ApiError, BusinessRuleViolation, Conflict, InsufficientFunds, NotFound
from bank_common.money import format_fen
from bank_common.principal import Principal

CASH_GL_ACCOUNT = "GL-1001-CASH"  # the bank's own cash-in-transit account, debited by counter deposits
OPENABLE_TYPES = ("II", "III")
MAX_ATTEMPTS = 8


class AccountNotFound(NotFound):
    code, message = "ACCOUNT_NOT_FOUND", "No such account for this customer."


class PayeeCannotReceive(BusinessRuleViolation):
    """Whatever the reason (no such account, frozen, closed, its balance cap): one answer, so that a payer
    learns nothing about someone else's account beyond "it cannot take this"."""

    code, message = "PAYEE_CANNOT_RECEIVE", "The receiving account cannot take this transfer."


class AccountNotActive(BusinessRuleViolation):
    code, message = "ACCOUNT_NOT_ACTIVE", "The account is frozen or closed."


class BalanceCapReached(BusinessRuleViolation):
    code, message = "BALANCE_CAP_REACHED", "A Type III account may hold at most 2000.00 CNY."


def now_iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- accounts -----------------------------------------------------------------------------------------

def new_account_number() -> str:
    """A 19-digit account number (bank prefix + random digits + Luhn check digit)."""
    body = "623091" + "".join(secrets.choice("0123456789") for _ in range(12))
    digits = [int(d) for d in body]
    for i in range(len(digits) - 1, -1, -2):
        digits[i] = digits[i] * 2 - 9 if digits[i] * 2 > 9 else digits[i] * 2
    return body + str((10 - sum(digits) % 10) % 10)


def account_out(account: Account) -> AccountOut:
    return AccountOut(account_id=account.account_id, type=account.account_type, status=account.status,
                      currency=account.currency, balance=format_fen(int(account.balance)),
                      available=format_fen(int(account.available)), opened_at=account.opened_at)


def open_account(caller: Principal, account_type: str) -> AccountOut:
    if account_type not in OPENABLE_TYPES:
        raise BusinessRuleViolation("Type I accounts are opened at a branch with identity verification.",
                                    code="ACCOUNT_TYPE_NOT_ALLOWED")
    account = Account(new_account_number(), customer_id=caller.subject, account_type=account_type,
                      status="active", balance=0, available=0, version=0,
                      opened_at=now_iso(datetime.now(UTC)))
    try:
        store.create_account(account)
    except store.AccountTypeTaken as exc:
        raise Conflict(f"The customer already has a Type {account_type} account.",
                       code="ACCOUNT_TYPE_ALREADY_OPEN") from exc
    return account_out(account)


def owned_account(caller: Principal, account_id: str) -> Account:
    account = store.get_account(account_id)
    # Someone else's account looks exactly like a missing one (no enumeration, no IDOR).
    if account is None or account.customer_id != caller.subject:
        raise AccountNotFound()
    return account


def list_accounts(caller: Principal) -> list[AccountOut]:
    return [account_out(a) for a in store.accounts_of(caller.subject)]


def statement(caller: Principal, account_id: str, limit: int, cursor: str | None) -> StatementPage:
    owned_account(caller, account_id)
    entries, next_cursor = store.statement(account_id, limit, int(cursor) if cursor is not None else None)
    items = [StatementEntry(entry_id=int(e.sk[2:]), transfer_id=e.transfer_id, kind=e.kind,
                            direction=e.direction, amount=format_fen(int(e.amount)),  # type: ignore[arg-type]
                            balance_after=format_fen(int(e.balance_after)), counterparty=e.counterparty, memo=e.memo,
                            created_at=e.created_at) for e in entries]
    return StatementPage(account_id=account_id, items=items, next_cursor=next_cursor)


# --- money movements ----------------------------------------------------------------------------------

def mask_account(account_id: str) -> str:
    return pii.mask_text(account_id) if account_id.isdigit() else account_id


def _entry(account: Account, delta: int, transfer_id: str, kind: str, counterparty: str, memo: str,
           created_at: str) -> LedgerEntry:
    return LedgerEntry(store.entry_pk(account.account_id), store.entry_sk(int(account.version) + 1),
                       transfer_id=transfer_id, kind=kind, direction="credit" if delta > 0 else "debit",
                       amount=abs(delta), balance_after=int(account.balance) + delta,
                       counterparty=mask_account(counterparty), memo=memo, created_at=created_at)


def _record(scoped_key: str, transfer_id: str, kind: str, legs: list[tuple[str, int]], request_hash: str,
            response: dict[str, Any], created_at: str) -> LedgerTransaction:
    assert sum(delta for _, delta in legs) == 0, "double entry: debits must equal credits"
    return LedgerTransaction(
        store.txn_pk(scoped_key), "TXN", transfer_id=transfer_id, kind=kind,
        legs=json.dumps([{"account": a, "direction": "credit" if d > 0 else "debit", "amount": abs(d)}
                         for a, d in legs]),
        request_hash=request_hash, response=json.dumps(response), created_at=created_at)


Decide = Callable[[store.Snapshot], store.Movement]


def _move(scoped_key: str, request_hash: str, account_ids: list[str], usage_keys: list[str], decide: Decide,
          payee_refusal: Callable[[Account, store.Posting], ApiError]) -> dict[str, Any]:
    """Run one idempotent movement: the response of its first success, replayed for a retried key.

    The idempotency record is not read up front: the transaction puts it only if absent, and a
    duplicate key comes back as that put's failed condition carrying the first record (ALL_OLD), so a
    replay costs the same two round trips. A request that fails a business rule looks the record up
    first (a third round trip, error paths only): a retry must replay even if the world has moved on.
    """
    try:
        outcome = _commit(scoped_key, account_ids, usage_keys, decide, payee_refusal)
    except ApiError:
        earlier = store.movement_record(scoped_key)
        if earlier is None:
            raise
        outcome = earlier
    if isinstance(outcome, LedgerTransaction):
        return idempotency.replay(outcome.request_hash, outcome.response, request_hash)
    return outcome


def _commit(scoped_key: str, account_ids: list[str], usage_keys: list[str], decide: Decide,
            payee_refusal: Callable[[Account, store.Posting], ApiError]) -> dict[str, Any] | LedgerTransaction:
    """Read, decide, write; retry lost races with jitter. Returns the new response, or the record an
    earlier request under the same key committed."""
    for tries in range(MAX_ATTEMPTS):
        movement = decide(store.load(account_ids, usage_keys))
        try:
            store.commit(movement)
            return movement.response
        except store.Refused as refused:
            if refused.record is not None and refused.record.code == "ConditionalCheckFailed":
                earlier = (LedgerTransaction.from_raw_data(refused.record.old_item) if refused.record.old_item
                           else store.movement_record(scoped_key))  # some emulators omit ALL_OLD
                if earlier is not None:
                    return earlier
            _raise_refusal(refused, movement, payee_refusal)
            time.sleep(random.uniform(0.002, 0.01) * (tries + 1))  # a lost race: back off, re-read
    raise Conflict("The accounts are busy; retry with the same Idempotency-Key.", code="CONCURRENT_UPDATE")


def _raise_refusal(refused: store.Refused, movement: store.Movement,
                   payee_refusal: Callable[[Account, store.Posting], ApiError]) -> None:
    """Raise the business error behind a cancelled movement, the payer's side first (its accounts, then
    its limits), the payee's last; return quietly when it was only a lost race (another movement changed
    an account between the read and the write)."""
    for posting, reason in zip(movement.payer, refused.payer, strict=True):
        old = _failed(reason)
        if old is not None and old.status != "active":
            raise AccountNotActive()
        if old is not None and posting.min_available is not None and int(old.available) < posting.min_available:
            raise InsufficientFunds()
    if movement.limits is not None:
        movement.limits.exceeded(refused.limits)
    for posting, reason in zip(movement.payee, refused.payee, strict=True):
        old = _failed(reason)
        if old is not None and (old.status != "active" or (posting.max_balance_before is not None
                                                           and int(old.balance) > posting.max_balance_before)):
            raise payee_refusal(old, posting)


def _failed(reason: Any) -> Account | None:
    """The account as it was when its update's condition failed (None: not failed, or no item returned)."""
    if reason is None or reason.code != "ConditionalCheckFailed" or not reason.old_item:
        return None
    return Account.from_raw_data(reason.old_item)


def transfer(caller: Principal, channel: str, key: str, body: TransferIn) -> dict[str, Any]:
    """Customer to customer, within the bank. Everything about the payer is checked before anything
    about the payee, and every payee-side refusal is the same PAYEE_CANNOT_RECEIVE: a payer cannot probe
    a payee's balance (a Type III cap) with transfers that fail for their own reasons."""
    if caller.kind != "customer":
        raise BusinessRuleViolation("Transfers are made by customers.", code="CUSTOMER_ONLY")
    if body.from_account == body.to_account:
        raise BusinessRuleViolation("The receiving account must differ from the paying one.",
                                    code="SAME_ACCOUNT")
    scoped_key = idempotency.scoped(caller.subject, key)
    request_hash = idempotency.request_hash("transfer", schema.to_builtins(body))
    at = datetime.now(UTC)

    def limit_context(account_type: str) -> limits.LimitContext:
        return limits.LimitContext(customer_id=caller.subject, account_id=body.from_account,
                                   account_type=account_type, channel=channel, txn_type="transfer",
                                   auth_level=caller.auth_level, amount=body.amount, at=at)

    def decide(snapshot: store.Snapshot) -> store.Movement:
        src, dst = snapshot.accounts.get(body.from_account), snapshot.accounts.get(body.to_account)
        # the payer's side
        if src is None or src.customer_id != caller.subject or src.account_type == "GL":
            raise AccountNotFound()
        if src.status != "active":
            raise AccountNotActive()
        if int(src.available) < body.amount:
            raise InsufficientFunds()
        plan = limits.plan(limit_context(src.account_type), snapshot.usage)
        # the payee's side
        balance_cap = limits.BALANCE_CAPS.get(dst.account_type) if dst is not None else None
        if dst is None or dst.account_type == "GL" or dst.status != "active" or \
                (balance_cap is not None and int(dst.balance) + body.amount > balance_cap):
            raise PayeeCannotReceive()
        transfer_id, created = uuid.uuid4().hex, now_iso(at)
        response = schema.to_builtins(TransferOut(
            transfer_id=transfer_id, status="completed", from_account=src.account_id, to_account=dst.account_id,
            amount=format_fen(body.amount), memo=body.memo, balance_after=format_fen(int(src.balance) - body.amount),
            created_at=created))
        payer = store.Posting(src, -body.amount, _entry(src, -body.amount, transfer_id, "transfer", dst.account_id,
                                                        body.memo, created), min_available=body.amount)
        payee = store.Posting(dst, body.amount, _entry(dst, body.amount, transfer_id, "transfer", src.account_id,
                                                       body.memo, created),
                              max_balance_before=None if balance_cap is None else balance_cap - body.amount)
        record = _record(scoped_key, transfer_id, "transfer",
                         [(src.account_id, -body.amount), (dst.account_id, body.amount)],
                         request_hash, response, created)
        return store.Movement(record, [payer], [payee], plan, response)

    usage_keys = limits.read_keys(limit_context(""))
    return _move(scoped_key, request_hash, [body.from_account, body.to_account], usage_keys, decide,
                 lambda old, posting: PayeeCannotReceive())


def deposit(teller: Principal, key: str, body: DepositIn) -> dict[str, Any]:
    """Cash in at the counter: debit the bank's cash GL account, credit the customer's account."""
    scoped_key = idempotency.scoped(teller.subject, key)
    request_hash = idempotency.request_hash("deposit", schema.to_builtins(body))

    def refusal(account: Account, posting: store.Posting) -> ApiError:
        if account.status != "active":
            return AccountNotActive()
        return BalanceCapReached()

    def decide(snapshot: store.Snapshot) -> store.Movement:
        account = snapshot.accounts.get(body.account_id)
        if account is None or account.account_type == "GL":
            raise AccountNotFound("No such account.")
        balance_cap = limits.BALANCE_CAPS.get(account.account_type)
        if account.status != "active" or (balance_cap is not None and int(account.balance) + body.amount > balance_cap):
            raise refusal(account, store.Posting(account, body.amount, None))
        at = datetime.now(UTC)
        transfer_id, created = uuid.uuid4().hex, now_iso(at)
        cash = snapshot.accounts.get(CASH_GL_ACCOUNT) or Account(CASH_GL_ACCOUNT, customer_id="BANK",
                                                                     account_type="GL", opened_at=created)
        response = schema.to_builtins(DepositOut(transfer_id=transfer_id, status="completed",
                                                 account_id=account.account_id, amount=format_fen(body.amount),
                                                 created_at=created))
        credit = store.Posting(account, body.amount, _entry(account, body.amount, transfer_id, "deposit",
                                                            CASH_GL_ACCOUNT, body.memo, created),
                               max_balance_before=None if balance_cap is None else balance_cap - body.amount)
        record = _record(scoped_key, transfer_id, "deposit",
                         [(CASH_GL_ACCOUNT, -body.amount), (account.account_id, body.amount)],
                         request_hash, response, created)
        return store.Movement(record, [store.Posting(cash, -body.amount, None)], [credit], None, response)

    return _move(scoped_key, request_hash, [body.account_id, CASH_GL_ACCOUNT], [], decide, refusal)
