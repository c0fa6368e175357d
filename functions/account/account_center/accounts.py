"""E-accounts under the PBOC rules (银发〔2016〕302号, 〔2018〕16号): opening, binding, what a customer sees, and
what operations staff do to an account (freeze, unfreeze, close).

- Type I: one per person, opened at a branch counter by a teller for a customer whose identity was checked
  face to face (KYC L2).
- Type II/III: opened online, bound to the customer's own Type I account or card, which its bank confirms
  (four-element verification); an unconfirmed binding opens the account suspended until it is verified
  again. Type II needs KYC L2 (ID card and face), Type III KYC L1. Each customer may hold a bank-set number
  of each (5 by default; TYPE_II_PER_CUSTOMER, TYPE_III_PER_CUSTOMER).
- Every online account needs the e-account service agreement signed (the contract & limit center).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime
from typing import Any

from account_center import store, verification
from account_center.errors import AccountNotFound
from account_center.models import Account
from account_center.movements import now_iso
from account_center.schemas import AccountOut, Binding, OpenAccountIn, StatementEntry, StatementPage, VerifyBindingIn
from bank_common import agreements, client, obs, pii
from bank_common.ddb import n, s
from bank_common.errors import BusinessRuleViolation, Conflict
from bank_common.money import format_fen
from bank_common.principal import Principal

BANK_PREFIX = "623091"  # this bank's BIN: account numbers are 19 digits with a Luhn check digit
KYC_ORDER = {"none": 0, "L1": 1, "L2": 2}
KYC_NEEDED = {"I": "L2", "II": "L2", "III": "L1"}
ONLINE_TYPES = ("II", "III")


class AccountTypeNotAllowed(BusinessRuleViolation):
    code = "ACCOUNT_TYPE_NOT_ALLOWED"
    message = "Type I accounts are opened at a branch counter with identity verification."


class KycRequired(BusinessRuleViolation):
    code, message = "KYC_REQUIRED", "This account type needs a higher identity verification level."


class BindingRequired(BusinessRuleViolation):
    code, message = "BINDING_REQUIRED", "A Type II/III account is bound to the customer's own Type I account or card."


class BindingRejected(BusinessRuleViolation):
    code, message = "BINDING_REJECTED", "The bound account or card was not confirmed as the customer's own."


class AccountCountCapReached(Conflict):
    code, message = "ACCOUNT_TYPE_ALREADY_OPEN", "The customer already holds as many accounts of this type as allowed."


class AccountNotEmpty(BusinessRuleViolation):
    code, message = "ACCOUNT_NOT_EMPTY", "Only an account with a zero balance, no holds and nothing pending closes."


class StatusNotChanged(Conflict):
    code, message = "ACCOUNT_STATUS_CONFLICT", "The account is not in a state this change applies to."


def new_account_number() -> str:
    """A 19-digit account number (bank prefix + random digits + Luhn check digit)."""
    body = BANK_PREFIX + "".join(secrets.choice("0123456789") for _ in range(12))
    for check in "0123456789":
        if verification.luhn_ok(body + check):
            return body + check
    raise AssertionError("a Luhn check digit always exists")


def count_cap(account_type: str) -> int:
    if account_type == "I":
        return 1
    return int(os.environ.get(f"TYPE_{account_type}_PER_CUSTOMER", "5"))


def account_out(account: Account) -> AccountOut:
    return AccountOut(account_id=account.account_id, type=account.account_type, status=account.status,
                      currency=account.currency, balance=format_fen(int(account.balance)),
                      available=format_fen(int(account.available)), held=format_fen(int(account.held)),
                      opened_at=account.opened_at,
                      bound_account=pii.mask_text(account.bound_account) if account.bound_account else None,
                      binding=account.binding)


def require_kyc(customer_id: str, account_type: str) -> None:
    """The user center's verification level must reach what the type needs (a cross-center call: opening
    is not on the money path)."""
    customer = client.call("user", "get_customer", {"customer_id": customer_id})
    level = str(customer.get("kyc_level") or "none")
    if customer.get("status") != "active" or KYC_ORDER.get(level, 0) < KYC_ORDER[KYC_NEEDED[account_type]]:
        raise KycRequired(details={"needed": KYC_NEEDED[account_type], "current": level})


def _new_account(customer_id: str, account_type: str, status: str, **fields: Any) -> Account:
    return Account(new_account_number(), customer_id=customer_id, account_type=account_type, status=status,
                   balance=0, held=0, available=0, version=0, opened_at=now_iso(datetime.now(UTC)), **fields)


def _create(account: Account) -> AccountOut:
    try:
        store.create_account(account, count_cap(account.account_type))
    except store.CountCapReached as exc:
        raise AccountCountCapReached(details={"type": account.account_type,
                                              "cap": count_cap(account.account_type)}) from exc
    obs.log().info("account opened", extra={"account": pii.mask_text(account.account_id),
                                            "type": account.account_type, "status": account.status})
    return account_out(account)


def verify_binding(customer_id: str, binding: Binding | VerifyBindingIn, card_number: str, bank_code: str) -> str:
    """VERIFIED / UNAVAILABLE for a binding; BindingRejected when its bank says it is not the customer's."""
    if bank_code == "SELF":
        own = store.get_account(card_number)
        if own is None or own.customer_id != customer_id or own.account_type != "I" or own.status != "active":
            raise BindingRejected()
        return verification.VERIFIED
    if not verification.luhn_ok(card_number):
        raise BindingRejected("The card number's check digit is wrong.")
    if not (binding.name and binding.id_number and binding.mobile):
        raise BindingRejected("Another bank's card is verified with the name, ID number and mobile registered there.")
    result = verification.verifier().verify(verification.CardHolder(card_number, binding.name, binding.id_number,
                                                                    binding.mobile))
    if result == verification.MISMATCH:
        raise BindingRejected()
    return result


def open_account(caller: Principal, body: OpenAccountIn) -> AccountOut:
    """A Type II/III account opened online (Type I is a teller's: open_type_i)."""
    if body.type not in ONLINE_TYPES:
        raise AccountTypeNotAllowed()
    if body.binding is None:
        raise BindingRequired()
    snapshot = store.load(store.Reads(signatures=(caller.subject,)))
    agreements.require(snapshot.signatures.get(caller.subject))
    require_kyc(caller.subject, body.type)
    result = verify_binding(caller.subject, body.binding, body.binding.card_number, body.binding.bank_code)
    verified = result == verification.VERIFIED
    account = _new_account(caller.subject, body.type, "active" if verified else "suspended",
                           bound_account=body.binding.card_number, bound_bank=body.binding.bank_code,
                           binding="verified" if verified else "unverified",
                           status_reason=None if verified else "binding not verified yet")
    return _create(account)


def open_type_i(teller: Principal, customer_id: str) -> AccountOut:
    """A Type I account opened at the counter (one per person)."""
    require_kyc(customer_id, "I")
    return _create(_new_account(customer_id, "I", "active"))


def reverify_binding(caller: Principal, account_id: str, body: VerifyBindingIn) -> AccountOut:
    """A suspended account's binding checked again; confirmed, the account becomes active."""
    account = owned_account(caller, account_id)
    if account.status != "suspended" or account.binding != "unverified":
        raise StatusNotChanged("Only a suspended account with an unverified binding is verified again.")
    result = verify_binding(caller.subject, body, str(account.bound_account), str(account.bound_bank))
    if result != verification.VERIFIED:
        raise BusinessRuleViolation("The bank did not answer; try again later.", code="BINDING_NOT_VERIFIED")
    changed = store.change_account(store.account_change(
        account, "#st = :suspended", {"status": s("active"), "binding": s("verified"), "status_reason": s("")},
        {":suspended": s("suspended")}))
    if changed is not None:
        raise StatusNotChanged()
    return account_out(store.get_account(account_id) or account)


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
                            created_at=e.created_at, posted_at=e.posted_at) for e in entries]
    return StatementPage(account_id=account_id, items=items, next_cursor=next_cursor)


# --- operations staff ----------------------------------------------------------------------------------

def customer_account(account_id: str) -> Account:
    account = store.get_account(account_id)
    if account is None or account.account_type in ("GL", "SETTLEMENT"):
        raise AccountNotFound("No such customer account.")
    return account


def _audit(staff: Principal, action: str, account: Account, reason: str) -> None:
    obs.log().info("account status changed", extra={"action": action, "staff": staff.subject,
                                                    "account": pii.mask_text(account.account_id),
                                                    "reason": reason})


def freeze(staff: Principal, account_id: str, reason: str) -> AccountOut:
    """No money leaves a frozen account (debits, holds); credits are refused too until it is unfrozen."""
    account = customer_account(account_id)
    changed = store.change_account(store.account_change(
        account, "#st IN (:active, :suspended)", {"status": s("frozen"), "status_reason": s(reason)},
        {":active": s("active"), ":suspended": s("suspended")}))
    if changed is not None:
        raise StatusNotChanged("Only an active or suspended account is frozen.")
    _audit(staff, "freeze", account, reason)
    return account_out(store.get_account(account_id) or account)


def unfreeze(staff: Principal, account_id: str, reason: str) -> AccountOut:
    account = customer_account(account_id)
    back = "suspended" if account.binding == "unverified" else "active"
    changed = store.change_account(store.account_change(
        account, "#st = :frozen", {"status": s(back), "status_reason": s(reason)}, {":frozen": s("frozen")}))
    if changed is not None:
        raise StatusNotChanged("Only a frozen account is unfrozen.")
    _audit(staff, "unfreeze", account, reason)
    return account_out(store.get_account(account_id) or account)


def close(staff: Principal, account_id: str, reason: str) -> AccountOut:
    """Close an account whose balance is zero, with no hold and nothing waiting in its journal. A credit
    that still reaches its journal afterwards goes to the bank's suspense account when folded."""
    account = customer_account(account_id)
    if account.status == "closed":
        raise StatusNotChanged("The account is closed already.")
    if int(account.balance) != 0 or int(account.held) != 0 or store.pending_postings(account_id, 1):
        raise AccountNotEmpty(details={"balance": format_fen(int(account.balance)),
                                       "held": format_fen(int(account.held))})
    at = now_iso(datetime.now(UTC))
    changed = store.change_account(
        store.account_change(account, "balance = :zero AND held = :zero AND version = :v AND #st <> :closed",
                             {"status": s("closed"), "status_reason": s(reason), "closed_at": s(at)},
                             {":zero": n(0), ":v": n(int(account.version)), ":closed": s("closed")}),
        store.uncount(account.customer_id, account.account_type))
    if changed is not None:
        raise AccountNotEmpty(details={"balance": format_fen(int(changed.balance)),
                                       "held": format_fen(int(changed.held))})
    _audit(staff, "close", account, reason)
    return account_out(store.get_account(account_id) or account)


def open_settlement_account(payload: dict[str, object]) -> dict[str, str]:
    """Internal: the settlement account a center collects into or pays out of (a biller's, a wealth product's
    collection account, a marketing budget), one per (center, purpose), hot: credited through its journal,
    since many customers pay it at once. Idempotent: the same center and purpose name the same account."""
    owner, purpose = str(payload.get("center", "")), str(payload.get("purpose", ""))
    if not (owner.isalpha() and owner.islower() and 2 <= len(owner) <= 20 and 1 <= len(purpose) <= 60):
        raise BusinessRuleViolation("A settlement account names its center and purpose.", code="VALIDATION_FAILED",
                                    status=400)
    digest = hashlib.sha256(f"{owner}#{purpose}".encode()).hexdigest()
    body = "623098" + str(int(digest, 16))[:12]
    number = next(body + d for d in "0123456789" if verification.luhn_ok(body + d))
    existing = store.get_account(number)
    if existing is None:
        account = Account(number, customer_id=f"CENTER#{owner}", account_type="SETTLEMENT", status="active",
                          balance=0, held=0, available=0, version=0, opened_at=now_iso(datetime.now(UTC)), hot=True,
                          status_reason=purpose)
        try:
            store.create_account(account, 10_000)
        except store.CountCapReached:
            pass  # created meanwhile by the same request's retry
        existing = store.get_account(number) or account
    return {"account_id": existing.account_id, "type": existing.account_type, "owner": existing.customer_id,
            "purpose": str(existing.status_reason)}


def summary(payload: dict[str, object]) -> dict[str, str]:
    """Internal: an account's type and status, for the customer who holds it (the contract & limit center's
    "how much can I still send")."""
    account = store.get_account(str(payload.get("account_id", "")))
    if account is None or account.customer_id != payload.get("customer_id"):
        raise AccountNotFound()
    return {"account_id": account.account_id, "type": account.account_type, "status": account.status}
