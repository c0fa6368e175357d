"""Transfers to and from other banks, through the clearing adapter (account_center.clearing_gateway).

Outbound, asynchronous: the customer's request reserves the money (a hold of kind `outbound`, with its
limits) and answers 202 pending; the transfer goes on the clearing queue; the submitter hands it to the
clearing system; the clearing system's final status comes back on the inbound queue: settled captures the
hold (customer → the clearing GL account, and the fee to fee income), returned releases it. Every step is
idempotent, so a redelivered message, a repeated receipt or a retried request changes nothing twice:

- the request: the hold is keyed by (customer, Idempotency-Key); a retry replays the first answer and
  queues the transfer again (a handler that died between the commit and the queue is covered by that,
  and by the sweeper, which queues again whatever stayed unsubmitted for a minute);
- the submitter: only a transfer still `queued` is submitted, then marked `submitted`; the instruction id
  is the hold id, which the clearing system deduplicates on, so a crash between the two steps costs a
  duplicate the clearing system discards;
- the receipts: settling and returning are conditional changes of the hold's status.

A settlement that arrives after the hold expired and was released (the clearing system was late) finds
the money already back with the customer: the bank has paid the other bank, so the amount is booked from
the suspense account to the clearing account for ops to recover (`LateClearingSettlements` metric).

Inbound: another bank's credit to one of our accounts, idempotent by its message id, under the PBOC inflow
and balance caps; a credit the account cannot take is refused (recorded) and sent back (pacs.004).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

from account_center import clearing_gateway, holds, movements, store
from account_center.clearing_gateway import Receipt
from account_center.errors import AccountNotFound, HoldNotFound
from account_center.models import Hold
from account_center.postings import GL_CLEARING, GL_FEES, GL_SUSPENSE, Movement
from account_center.schemas import OutboundIn, OutboundOut
from account_center.transfers import credit_checked, payer_checks
from bank_common import aws, config, faults, idempotency, limits, obs, pii, schema
from bank_common.ddb import s
from bank_common.errors import ApiError
from bank_common.money import format_fen
from bank_common.principal import Principal

HIGH_VALUE = 50_000_00  # above this an outbound transfer goes as a high-value payment, for a fee
HIGH_VALUE_FEE = 5_00
REQUEUE_AFTER_SECONDS = 60
ANY_STATUS = ("active", "frozen", "suspended", "closed")  # the money left the bank: a settlement always debits


def fee_for(amount: int) -> int:
    return HIGH_VALUE_FEE if amount > HIGH_VALUE else 0


def hold_seconds() -> int:
    """How long an outbound transfer's money stays reserved waiting for the clearing system."""
    return int(os.environ.get("OUTBOUND_HOLD_SECONDS", str(2 * 86400)))


def outbound_out(found: Hold) -> OutboundOut:
    status = {"confirmed": "completed", "late": "completed", "returned": "returned",
              "expired": "expired"}.get(str(found.clearing_status), "pending")
    return OutboundOut(transfer_id=found.hold_id, status=status, from_account=found.account_id,  # type: ignore[arg-type]
                       to_bank=str(found.to_bank), to_account=pii.mask_text(str(found.to_account)),
                       amount=format_fen(int(found.amount) - int(found.fee)), fee=format_fen(int(found.fee)),
                       memo=found.memo, created_at=found.created_at)


def create_outbound(caller: Principal, channel: str, key: str, body: OutboundIn) -> dict[str, Any]:
    """Accept an outbound transfer: reserve amount + fee and its limits, then queue it for clearing."""
    hold_id = holds.hold_id_for("O", idempotency.scoped(caller.subject, key))
    request_hash = idempotency.request_hash("outbound", schema.to_builtins(body))
    at = datetime.now(UTC)
    fee = fee_for(body.amount)
    ctx = limits.LimitContext(customer_id=caller.subject, channel=channel, txn_type="outbound_transfer",
                              auth_level=caller.auth_level, amount=body.amount, at=at)

    def decide(snapshot: store.Snapshot, attempt: movements.Attempt) -> movements.Plan:
        src = payer_checks(snapshot, caller.subject, body.from_account, body.amount + fee)
        mv = Movement("outbound", body.memo, at, attempt)
        holds.reserve(mv, src.account_id, body.amount + fee)
        mv.limit(limits.plan_customer(snapshot.definitions, ctx, snapshot.usage), "payer", limits.exceeded)
        to_bound = src.bound_account == body.to_account and src.bound_bank == body.to_bank
        counts = src.account_type in limits.CAPPED_ACCOUNT_TYPES and not to_bound
        if counts:
            mv.limit(limits.plan_account(snapshot.definitions.outflow_caps(src.account_type), src.account_id, "OUT",
                                         body.amount, at, snapshot.usage), "payer", limits.exceeded)
        found = holds.new_hold(
            hold_id, "outbound", customer_id=caller.subject, account_id=src.account_id, amount=body.amount + fee,
            request_hash=request_hash, at=at, expires_in=hold_seconds(), usage=mv.usage, txn_type="outbound_transfer",
            channel=channel, memo=body.memo, to_bank=body.to_bank, to_account=body.to_account, to_name=body.to_name,
            fee=fee, counts_outflow=counts, clearing_status="queued", outbox_shard=store.shard_of(hold_id, "Q"),
            queued_epoch=int(at.timestamp()))
        response = schema.to_builtins(outbound_out(found))
        found.response = json.dumps(response)
        found.http_status = 202
        return movements.Plan(store.put(found), mv.parts(), response)

    reads = store.Reads(accounts=(body.from_account,),
                        usage=tuple(limits.payer_usage_keys(ctx, body.from_account)),
                        definitions=tuple(limits.definition_keys(ctx)), signatures=(caller.subject,))
    response = movements.run(reads, decide, holds.hold_outcomes(hold_id, request_hash))
    faults.crash_point("before_enqueue")
    if response.get("status") == "pending":
        enqueue(hold_id)
    return response


def enqueue(hold_id: str) -> None:
    """Queue an outbound transfer for the submitter; a failure here is made good by the sweeper."""
    try:
        aws.client("sqs").send_message(QueueUrl=config.env("CLEARING_QUEUE_URL"),
                                       MessageBody=json.dumps({"hold_id": hold_id}))
    except Exception:  # noqa: BLE001 - the transfer stays queued; the sweeper sends it again
        obs.log().exception("outbound transfer not queued", extra={"hold": hold_id})
        obs.emit_metric("ClearingEnqueueFailed")


def outbound_status(caller: Principal, transfer_id: str) -> OutboundOut:
    found = store.get_hold(transfer_id)
    if found is None or found.kind != "outbound" or found.customer_id != caller.subject:
        raise HoldNotFound("No such outbound transfer.", code="TRANSFER_NOT_FOUND")
    return outbound_out(found)


def submit(message: dict[str, Any]) -> None:
    """The submitter (clearing queue): hand a queued outbound transfer to the clearing system, once."""
    found = store.get_hold(str(message.get("hold_id", "")))
    if found is None or found.kind != "outbound" or found.clearing_status != "queued" or found.status != "active":
        return  # a duplicate delivery, or settled meanwhile
    instruction = clearing_gateway.Instruction(
        instruction_id=found.hold_id, created_at=found.created_at, amount=int(found.amount) - int(found.fee),
        debtor_account=found.account_id, debtor_id=found.customer_id, creditor_bank=str(found.to_bank),
        creditor_account=str(found.to_account), creditor_name=str(found.to_name), memo=found.memo)
    accepted = clearing_gateway.gateway().submit(instruction)
    faults.crash_point("after_submit")
    if accepted:
        store.mark_submitted(found.hold_id, datetime.now(UTC))
    else:
        holds.release({"hold_id": found.hold_id, "account_id": found.account_id}, reason="returned")


def receive(body: str) -> None:
    """One message from the clearing inbound queue."""
    receipt = clearing_gateway.parse(body)
    if receipt.kind == "settled":
        settle(receipt)
    elif receipt.kind == "returned":
        returned(receipt)
    else:
        credit(receipt)


def settle(receipt: Receipt) -> None:
    found = store.get_hold(receipt.instruction_id)
    if found is None or found.kind != "outbound":
        obs.log().warning("settlement of an unknown transfer", extra={"instruction": receipt.instruction_id})
        return
    if found.status == "released":
        late_settlement(found)
        return
    at = datetime.now(UTC)
    request_hash = idempotency.request_hash("settle", {"hold_id": found.hold_id})
    amount, fee = int(found.amount) - int(found.fee), int(found.fee)

    def decide(snapshot: store.Snapshot, attempt: movements.Attempt) -> movements.Plan:
        held = holds.the_hold(snapshot, found.hold_id, found.account_id, kinds=("outbound",))
        account = snapshot.accounts.get(found.account_id)
        if account is None:
            raise AccountNotFound()
        memo = found.memo if not fee else f"{found.memo} (fee {format_fen(fee)})".strip()
        mv = Movement("outbound", memo, at, attempt)
        mv.debit(account, amount + fee, f"{found.to_bank}:{found.to_account}", held=int(held.amount),
                 statuses=ANY_STATUS)
        mv.journal(GL_CLEARING, amount, account.account_id)
        if fee:
            mv.journal(GL_FEES, fee, account.account_id)
        response = {"hold_id": found.hold_id, "status": "captured", "transfer_id": mv.transfer_id,
                    "amount": format_fen(amount + fee)}
        mv.add(store.Part(store.put(mv.record(store.txn_pk(f"CLEARING#{found.hold_id}"), request_hash, response))))
        record = store.hold_transition(found.hold_id, "captured", now=at, changes={
            "captured_amount": {"N": str(amount + fee)}, "settled": s(json.dumps(response)),
            "settle_hash": s(request_hash), "closed_reason": s("settled"), "clearing_status": s("confirmed")})
        return mv.plan(record, response)

    reads = store.Reads(accounts=(found.account_id,), holds=(found.hold_id,))
    try:
        movements.run(reads, decide, holds.settled_outcomes(found.hold_id, request_hash, "captured"))
    except ApiError as exc:
        if exc.code != "HOLD_NOT_ACTIVE":
            raise
        latest = store.get_hold(found.hold_id)
        if latest is not None and latest.status == "released":  # expired between our read and the capture
            late_settlement(latest)


def late_settlement(found: Hold) -> None:
    """The clearing system settled a transfer whose hold already expired and was released: the bank paid,
    the customer kept the money. Suspense → clearing, once, for ops to recover."""
    at = datetime.now(UTC)
    amount = int(found.amount) - int(found.fee)
    record_pk = store.txn_pk(f"CLEARING#LATE#{found.hold_id}")
    request_hash = idempotency.request_hash("late", {"hold_id": found.hold_id})

    def decide(snapshot: store.Snapshot, attempt: movements.Attempt) -> movements.Plan:
        mv = Movement("late_settlement", f"late settlement of {found.hold_id} (customer kept the money)", at, attempt)
        mv.journal(GL_SUSPENSE, -amount, found.account_id)
        mv.journal(GL_CLEARING, amount, found.account_id)
        response = {"hold_id": found.hold_id, "status": "late", "amount": format_fen(amount)}
        mv.add(store.Part(store.hold_set(found.hold_id, {"clearing_status": s("late")})))
        return mv.plan(store.put(mv.record(record_pk, request_hash, response)), response)

    movements.run(store.Reads(), decide, movements.ledger_outcomes(record_pk, request_hash, at))
    obs.log().warning("late clearing settlement booked to suspense", extra={"hold": found.hold_id})
    obs.emit_metric("LateClearingSettlements")


def returned(receipt: Receipt) -> None:
    found = store.get_hold(receipt.instruction_id)
    if found is None or found.kind != "outbound":
        obs.log().warning("return of an unknown transfer", extra={"instruction": receipt.instruction_id})
        return
    try:
        holds.release({"hold_id": found.hold_id, "account_id": found.account_id}, reason="returned")
    except ApiError as exc:
        if exc.code != "HOLD_NOT_ACTIVE":  # settled before (cannot be returned) or released already
            raise
        obs.log().warning("return of a settled transfer ignored", extra={"hold": found.hold_id})


def credit(receipt: Receipt) -> None:
    """Another bank's credit transfer to one of our customer accounts."""
    at = datetime.now(UTC)
    record_pk = store.txn_pk(f"CLEARING#IN#{receipt.message_id}")
    request_hash = idempotency.request_hash("inbound", {"message": receipt.message_id, "amount": receipt.amount,
                                                        "to": receipt.to_account})
    counterparty = f"{receipt.from_bank}:{receipt.from_account}"

    def decide(snapshot: store.Snapshot, attempt: movements.Attempt) -> movements.Plan:
        payee = snapshot.accounts.get(receipt.to_account)
        if payee is None or payee.account_type in ("GL", "SETTLEMENT"):
            raise AccountNotFound("No such account.")
        mv = Movement("inbound", receipt.memo or f"from {receipt.from_name}", at, attempt)
        mv.journal(GL_CLEARING, -receipt.amount, payee.account_id)
        credit_checked(mv, snapshot, payee, receipt.amount, receipt.from_account, counterparty)
        response = {"transfer_id": mv.transfer_id, "status": "completed", "account_id": payee.account_id,
                    "amount": format_fen(receipt.amount)}
        return mv.plan(store.put(mv.record(record_pk, request_hash, response)), response)

    reads = store.Reads(accounts=(receipt.to_account,),
                        usage=tuple(limits.account_usage_keys(receipt.to_account, "IN", at)),
                        definitions=tuple(limits.account_type_key(t) for t in limits.CAPPED_ACCOUNT_TYPES))
    try:
        movements.run(reads, decide, movements.ledger_outcomes(record_pk, request_hash, at))
    except ApiError as refused:
        if not refused.decides:
            raise
        reason = "AC01" if refused.status == 404 else "AG01"
        clearing_gateway.gateway().return_credit(receipt, reason)
        obs.log().info("inbound credit returned", extra={"clearing_message": receipt.message_id,
                                                                "code": refused.code})


def requeue(now: datetime | None = None) -> int:
    """Queue again the outbound transfers that stayed unsubmitted (the handler died before queueing them, or
    the queue was down)."""
    at = now or datetime.now(UTC)
    hold_ids = store.outbox(int(at.timestamp()) - REQUEUE_AFTER_SECONDS, holds.SWEEP_BATCH)
    for hold_id in hold_ids:
        enqueue(hold_id)
    return len(hold_ids)
