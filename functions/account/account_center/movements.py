"""The one shape of every money operation (DESIGN 5): read what the decision needs in one batch, decide,
write it all in one transaction.

- A duplicate key comes back as the idempotency record's failed condition carrying the first outcome
  (ALL_OLD): the first answer is replayed, in the same two round trips.
- A business refusal, whether decided on the read or read from a cancelled transaction, is recorded under
  the key like a success and replayed to every retry: an outcome, once decided, is final
  (docs/decisions/0020). Only answers that decided nothing (a lost race, an outage) may change on retry.
- A lost race re-reads and tries again, with jitter, up to MAX_RACES times, then 409 CONCURRENT_UPDATE.
  Except for a credit: when only the payee's lock was lost, the credit moves to the payee's journal
  (no lock) and the same read is written again, so no payer ever sees CONCURRENT_UPDATE because someone
  else paid the same payee (docs/decisions/0021). A payee whose balance cap needs its lock (Type III)
  keeps it: its lost races are retried while the invocation has time, each one meaning another credit
  landed.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from account_center import hot, store
from account_center.models import LedgerTransaction
from bank_common import errors, faults, idempotency
from bank_common.errors import ApiError, Conflict

MAX_RACES = 8
CREDIT_RACE_SECONDS = 5.0  # how long a locked credit keeps retrying lost races on its payee


def now_iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Attempt:
    """What the decision should do differently on this try."""

    journal: set[str] = field(default_factory=set)  # payees credited through their journal this time


@dataclass
class Plan:
    """What one attempt writes: the operation's record item (put only if absent; None when a part plays
    that role), its parts in payer-first order, and the answer it gives when it commits."""

    record: dict[str, Any] | None
    parts: list[store.Part]
    response: dict[str, Any]
    journal_fallback: set[str] = field(default_factory=set)  # payees that may move to their journal


Decide = Callable[[store.Snapshot, Attempt], Plan]


class AlreadyDecided(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a decision that finds its operation settled on the read (a hold already captured or
    released): the outcome is replayed from that record (wire format) instead of written again."""

    def __init__(self, old_item: dict[str, Any] | None) -> None:
        super().__init__("already decided")
        self.old_item = old_item


@dataclass
class Outcomes:
    """How an operation's outcomes are kept and replayed."""

    replay: Callable[[dict[str, Any] | None], dict[str, Any]]  # the first outcome, from its record (wire)
    refuse: Callable[[ApiError], dict[str, Any]]  # record a refusal and raise it (or replay what was there)


def run(reads: store.Reads, decide: Decide, outcomes: Outcomes) -> dict[str, Any]:
    """Read, decide, write; retry what decided nothing. Returns the response (first or replayed)."""
    attempt = Attempt()
    races = 0
    credit_deadline = time.monotonic() + CREDIT_RACE_SECONDS
    snapshot = store.load(reads)
    while True:
        try:
            plan = decide(snapshot, attempt)
        except AlreadyDecided as done:
            return outcomes.replay(done.old_item)
        except ApiError as error:
            if not error.decides:
                raise
            return outcomes.refuse(error)
        try:
            store.commit(plan.record, plan.parts)
            faults.crash_point("after_commit")  # the proof suite: the answer is lost, the retry must replay it
            return plan.response
        except store.Duplicate as duplicate:
            return outcomes.replay(duplicate.old_item)
        except store.Cancelled as cancelled:
            refusal, lost = explain(cancelled)
        if refusal is not None:
            if not refusal.decides:  # e.g. a step-up token already spent: a retry with a new one may pass
                raise refusal
            return outcomes.refuse(refusal)
        payees = {p.account_id for p, _ in lost if p.side == "payee" and p.account_id}
        # only payees' locks were lost (with the entries they number): someone else's credit landed
        if lost and payees and all(p.account_id in payees for p, _ in lost):
            movable = (payees & plan.journal_fallback) - attempt.journal
            if movable:
                hot.remember(movable)
                attempt.journal |= movable
                continue  # the payer's side is as read: write the same decision with journal credits
            if time.monotonic() < credit_deadline:
                time.sleep(random.uniform(0.001, 0.005))
                snapshot = store.load(reads)
                continue
        races += 1
        if races >= MAX_RACES:
            raise Conflict("The accounts are busy; retry with the same Idempotency-Key.", code="CONCURRENT_UPDATE")
        time.sleep(random.uniform(0.002, 0.01) * races)  # a lost race: back off, re-read
        snapshot = store.load(reads)


def explain(cancelled: store.Cancelled) -> tuple[ApiError | None, list[tuple[store.Part, Any]]]:
    """The business refusal behind a cancelled transaction, the payer's side first, or the lost races.

    A payer-side lost race stops the reading there: until the payer's side is known to pass, nothing about
    the payee is told (so a payer cannot probe a payee's balance cap with transfers that never go through)."""
    lost: list[tuple[store.Part, Any]] = []
    payee_refusal: ApiError | None = None  # told only when nothing on the payer's side failed as well
    for part, reason in cancelled.failed():
        if reason.code == "ConditionalCheckFailed" and part.explain is not None:
            refusal = part.explain(reason.old_item)
            if refusal is not None and part.side != "payee":
                return refusal, []
            if refusal is not None:
                if payee_refusal is None and not lost:
                    payee_refusal = refusal
                continue
        lost.append((part, reason))
        if part.side == "payer":  # the payer's race: re-read, and the payer's side is decided first
            return None, lost
    if payee_refusal is not None:
        return payee_refusal, []
    return None, lost


# --- outcomes kept in the ledger's idempotency records (transfers, deposits, reversals, inbound credits) ---

def ledger_outcomes(record_pk: str, request_hash: str, at: datetime) -> Outcomes:
    """Outcomes kept as LedgerTransaction records under `record_pk`: a success is its movement's record, a
    refusal a record of its own (put alone, only if absent); a replay checks the request's hash."""

    def answer(record: LedgerTransaction | None) -> dict[str, Any]:
        if record is None:  # the record vanished between the condition and the read: decided nothing yet
            raise Conflict("Retry with the same Idempotency-Key.", code="CONCURRENT_UPDATE")
        if record.request_hash != request_hash:
            raise errors.IdempotencyKeyReused()
        if record.outcome == "refused":
            raise errors.from_body(int(record.status), json.loads(record.error or "{}"))
        return idempotency.replay(record.request_hash, record.response, request_hash)

    def replay(old_item: dict[str, Any] | None) -> dict[str, Any]:
        return answer(LedgerTransaction.from_raw_data(old_item) if old_item else store.record_of(record_pk))

    def refuse(error: ApiError) -> dict[str, Any]:
        refusal = LedgerTransaction(record_pk, "TXN", outcome="refused", request_hash=request_hash,
                                    status=error.status, error=json.dumps(refusal_body(error)),
                                    created_at=now_iso(at))
        existing = store.put_unless_exists(refusal)
        if existing is not None:
            return answer(LedgerTransaction.from_raw_data(existing))
        raise error

    return Outcomes(replay, refuse)


def refusal_body(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.details is not None:
        body["details"] = error.details
    return body
