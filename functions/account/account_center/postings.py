"""Building one movement's transaction: its double-entry legs, each account's side, the statement entries,
the limit usage, in the order refusals are reported (payer, payer's limits, payee, payee's limits, the rest).

A debit of a customer account is always in place, under the account's lock (debits stay strictly serial,
and `available >= amount` is checked against the balance the lock protects). A credit is in place too,
unless its payee takes credits through its journal: the bank's GL accounts (their debits too: they carry no
funds check), accounts flagged hot, and a payee whose in-place credit just lost a race (docs/decisions/0021).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from account_center import hot, store
from account_center.errors import AccountNotActive, PayeeCannotReceive
from account_center.models import Account, JournalPosting, LedgerEntry, LedgerTransaction
from account_center.movements import Attempt, Plan, now_iso
from bank_common import limits, pii
from bank_common.errors import ApiError, InsufficientFunds

# The bank's own ledger accounts (customer-liability sign: cash goes negative as cash comes in).
GL_CASH = "GL-1001-CASH"  # cash taken at the counters
GL_CLEARING = "GL-2001-CLEARING"  # owed to / by the interbank clearing system
GL_SUSPENSE = "GL-2002-SUSPENSE"  # money the bank holds until ops resolve it (a late clearing confirmation, ...)
GL_FEES = "GL-6001-FEES"  # fee income
GL_MARKETING = "GL-6601-MARKETING"  # marketing expense: the coupons' discounts the bank pays payees for customers
BANK_ACCOUNTS = (GL_CASH, GL_CLEARING, GL_SUSPENSE, GL_FEES, GL_MARKETING)


def is_bank(account_id: str) -> bool:
    return account_id in BANK_ACCOUNTS


def mask_account(account_id: str) -> str:
    return pii.mask_text(account_id) if account_id.isdigit() else account_id


def payer_explain(min_available: int | None, statuses: tuple[str, ...]) -> store.Explain:
    """A payer's failed update: not active, or not enough available; None for a lost race."""

    def explain(old: dict[str, Any] | None) -> ApiError | None:
        if not old:
            return None
        account = Account.from_raw_data(old)
        if account.status not in statuses:
            return AccountNotActive()
        if min_available is not None and int(account.available) < min_available:
            return InsufficientFunds()
        return None

    return explain


def payee_explain(max_balance_before: int | None, refusal: Callable[[], ApiError]) -> store.Explain:
    """A payee's failed update: it cannot receive (status, balance cap); None for a lost race."""

    def explain(old: dict[str, Any] | None) -> ApiError | None:
        if not old:
            return None
        account = Account.from_raw_data(old)
        if account.status != "active" or (max_balance_before is not None
                                          and int(account.balance) > max_balance_before):
            return refusal()
        return None

    return explain


@dataclass
class Movement:
    """One movement of money under construction."""

    kind: str
    memo: str
    at: datetime
    attempt: Attempt
    transfer_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    legs: list[tuple[str, int]] = field(default_factory=list)
    payer: list[store.Part] = field(default_factory=list)
    payer_limits: list[store.Part] = field(default_factory=list)
    payee: list[store.Part] = field(default_factory=list)
    payee_limits: list[store.Part] = field(default_factory=list)
    rest: list[store.Part] = field(default_factory=list)
    usage: list[limits.UsageDelta] = field(default_factory=list)
    fallback: set[str] = field(default_factory=set)

    @property
    def created(self) -> str:
        return now_iso(self.at)

    def _entry(self, account: Account, delta: int, counterparty: str, held_delta: int = 0) -> LedgerEntry:
        return LedgerEntry(store.entry_pk(account.account_id), store.entry_sk(int(account.version) + 1),
                           transfer_id=self.transfer_id, kind=self.kind,
                           direction="credit" if delta > 0 else "debit", amount=abs(delta),
                           balance_after=int(account.balance) + delta, counterparty=mask_account(counterparty),
                           memo=self.memo, created_at=self.created)

    def journal(self, account_id: str, delta: int, counterparty: str) -> None:
        """A posting for the account's journal, folded into its balance and statement later."""
        posting = JournalPosting(account_id, store.journal_sk(self.created), amount=delta,
                                 transfer_id=self.transfer_id, kind=self.kind,
                                 counterparty=mask_account(counterparty), memo=self.memo, created_at=self.created)
        self.rest.append(store.Part(store.put(posting)))
        self.legs.append((account_id, delta))

    def debit(self, account: Account, amount: int, counterparty: str, *, held: int = 0,
              statuses: tuple[str, ...] = ("active",), check_funds: bool = True) -> None:
        """Take `amount` out; `held` (a capture) is the hold whose reservation the debit uses up."""
        if is_bank(account.account_id):
            self.journal(account.account_id, -amount, counterparty)
            return
        need = amount - held if check_funds else None
        item = store.locked_update(account, -amount, min_available=need if need and need > 0 else None,
                                   statuses=statuses, held_delta=-held)
        self.payer.append(store.Part(item, "payer", payer_explain(need, statuses), account.account_id))
        entry = store.put(self._entry(account, -amount, counterparty))
        self.rest.append(store.Part(entry, account_id=account.account_id))
        self.legs.append((account.account_id, -amount))

    def credit(self, account: Account, amount: int, counterparty: str, *, max_balance: int | None = None,
               refusal: Callable[[], ApiError] = PayeeCannotReceive, side: str = "payee") -> None:
        """Put `amount` in: through the journal where the payee takes credits that way (and no balance cap
        needs its lock), else in place under its lock."""
        account_id = account.account_id
        journal_ok = max_balance is None
        if is_bank(account_id) or (journal_ok and (account.hot or account_id in self.attempt.journal
                                                   or hot.contended(account_id))):
            self.journal(account_id, amount, counterparty)
            return
        bound = None if max_balance is None else max_balance - amount
        item = store.locked_update(account, amount, max_balance_before=bound)
        self.payee.append(store.Part(item, side, payee_explain(bound, refusal), account_id))
        # the entry names its account: when the lock is lost, its E#<version> was taken too (the same race)
        self.rest.append(store.Part(store.put(self._entry(account, amount, counterparty)), account_id=account_id))
        self.legs.append((account_id, amount))
        if journal_ok:
            self.fallback.add(account_id)

    def limit(self, plan: limits.LimitPlan, side: str, refusal: Callable[[limits.Cap], ApiError]) -> None:
        """Usage updates of one side; a failed condition is that cap's refusal."""
        target = self.payer_limits if side == "payer" else self.payee_limits
        for item, cap in zip(plan.items, plan.caps, strict=True):
            target.append(store.Part(item, side, _refusing(refusal, cap)))
        self.usage += plan.deltas

    def add(self, part: store.Part) -> None:
        self.rest.append(part)

    def add_payer(self, part: store.Part) -> None:
        """A payer-side part of its own (a step-up token spent): read before anything about the payee."""
        self.payer_limits.append(part)

    def parts(self) -> list[store.Part]:
        return self.payer + self.payer_limits + self.payee + self.payee_limits + self.rest

    def record(self, pk: str, request_hash: str, response: dict[str, Any], status: int = 201) -> LedgerTransaction:
        """The movement's double-entry record, keyed by the operation's idempotency key."""
        assert sum(delta for _, delta in self.legs) == 0, "double entry: debits must equal credits"
        return LedgerTransaction(
            pk, "TXN", outcome="completed", transfer_id=self.transfer_id, tid=self.transfer_id, kind=self.kind,
            legs=json.dumps([{"account": a, "direction": "credit" if d > 0 else "debit", "amount": abs(d)}
                             for a, d in self.legs]),
            request_hash=request_hash, response=json.dumps(response), status=status,
            usage=limits.deltas_json(self.usage) if self.usage else None, created_at=self.created)

    def plan(self, record: dict[str, Any] | None, response: dict[str, Any]) -> Plan:
        return Plan(record, self.parts(), response, set(self.fallback))


def _refusing(refusal: Callable[[limits.Cap], ApiError], cap: limits.Cap) -> store.Explain:
    return lambda old: refusal(cap)


def legs_of(record: LedgerTransaction) -> list[tuple[str, int]]:
    """A record's legs as signed amounts (credit +, debit -)."""
    return [(leg["account"], leg["amount"] if leg["direction"] == "credit" else -leg["amount"])
            for leg in json.loads(record.legs)]
