"""Holds for other centers (internal operations, not on the public API): hold → capture (all or part) or
release, each with an expiry; a scheduled sweeper releases expired holds (DESIGN 5).

- hold: reserves money (available - amount, held + amount) and the limit usage the payment will count for,
  in one transaction. Idempotent by the caller's key: hold_id is derived from (calling center, key), and
  the hold item is put only if absent, so a retry replays the first answer (a refusal too).
- capture: debits the account by the amount captured (at most the hold's) under its lock, credits the
  destination, releases the rest of the reservation and gives its limit usage back. Only before expiry.
- release: the whole reservation back, its usage given back.

Capture and release are idempotent by the hold's own state: each is a conditional change of `status` from
active, which also carries the answer; a retry finds it settled and gets the same answer. Each costs one
BatchGetItem and one TransactWriteItems (the caller names the account and destination, so one read does).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from account_center import movements, store
from account_center.errors import (
    AccountNotActive,
    AccountNotFound,
    CaptureExceedsHold,
    HoldExpired,
    HoldNotActive,
    HoldNotFound,
    NotReversible,
)
from account_center.models import Hold
from account_center.postings import GL_MARKETING, Movement, legs_of, payer_explain
from account_center.schemas import CaptureIn, HoldIn, RefundIn, ReleaseIn
from account_center.transfers import credit_checked, plan_payer_limits
from bank_common import errors, idempotency, limits, marketing_effects, obs, schema
from bank_common.ddb import Cancellation, n, s
from bank_common.errors import ApiError, Conflict, InsufficientFunds
from bank_common.money import format_fen

SWEEP_BATCH = 200


def hold_id_for(prefix: str, scoped_key: str) -> str:
    """A hold's id from who asked and their key: a retry names the same hold."""
    return prefix + hashlib.sha256(scoped_key.encode()).hexdigest()[:31]


def hold_outcomes(hold_id: str, request_hash: str) -> movements.Outcomes:
    """A hold request's outcome is its hold item: the first answer (or refusal) is replayed from it."""

    def replay(old_item: dict[str, Any] | None) -> dict[str, Any]:
        hold = Hold.from_raw_data(old_item) if old_item else store.get_hold(hold_id)
        if hold is None:
            raise Conflict("Retry with the same key.", code="CONCURRENT_UPDATE")
        if hold.request_hash != request_hash:
            raise errors.IdempotencyKeyReused()
        if hold.status == "refused":
            raise errors.from_body(int(hold.http_status), json.loads(hold.error or "{}"))
        return dict(json.loads(hold.response))

    def refuse(error: ApiError) -> dict[str, Any]:
        refusal = Hold(hold_id, status="refused", request_hash=request_hash, http_status=error.status,
                       error=json.dumps(movements.refusal_body(error)),
                       created_at=movements.now_iso(datetime.now(UTC)))
        existing = store.put_unless_exists(refusal)
        if existing is not None:
            return replay(existing)
        raise error

    return movements.Outcomes(replay, refuse)


def new_hold(hold_id: str, kind: str, *, customer_id: str, account_id: str, amount: int, request_hash: str,
             at: datetime, expires_in: int, usage: list[limits.UsageDelta], **fields: Any) -> Hold:
    expires = at + timedelta(seconds=expires_in)
    return Hold(hold_id, kind=kind, status="active", customer_id=customer_id, account_id=account_id,
                amount=amount, request_hash=request_hash, usage=limits.deltas_json(usage),
                expires_at=movements.now_iso(expires), expires_epoch=int(expires.timestamp()),
                active_shard=store.shard_of(hold_id, "A"), created_at=movements.now_iso(at), **fields)


def reserve(mv: Movement, account_id: str, amount: int) -> None:
    """The hold's reservation on the payer's account (payer side, before its limits)."""
    mv.payer.append(store.Part(store.reserve_update(account_id, amount), "payer",
                               payer_explain(amount, ("active",)), account_id))


def hold(payload: dict[str, Any]) -> dict[str, Any]:
    body = schema.decode(payload, HoldIn)
    hold_id = hold_id_for("H", f"{body.caller}#{body.idempotency_key}")
    request_hash = idempotency.request_hash("hold", schema.to_builtins(body))
    at = datetime.now(UTC)
    ctx = limits.LimitContext(customer_id=body.customer_id, channel=body.channel, txn_type=body.txn_type,
                              auth_level=body.auth_level, amount=body.amount, at=at)

    def decide(snapshot: store.Snapshot, attempt: movements.Attempt) -> movements.Plan:
        account = snapshot.accounts.get(body.account_id)
        if account is None or account.customer_id != body.customer_id:
            raise AccountNotFound()
        if account.status != "active":
            raise AccountNotActive()
        if int(account.available) < body.amount:
            raise InsufficientFunds()
        mv = Movement("hold", body.memo, at, attempt)
        reserve(mv, account.account_id, body.amount)
        plan_payer_limits(mv, snapshot, account, body.destination or "", ctx, own=False)
        item = new_hold(hold_id, "hold", customer_id=body.customer_id, account_id=account.account_id,
                        amount=body.amount, request_hash=request_hash, at=at, expires_in=body.expires_in_seconds,
                        usage=mv.usage, txn_type=body.txn_type, channel=body.channel,
                        destination=body.destination, memo=body.memo)
        response = {"hold_id": hold_id, "status": "active", "account_id": account.account_id,
                    "amount": format_fen(body.amount), "expires_at": item.expires_at}
        item.response = json.dumps(response)
        return movements.Plan(store.put(item), mv.parts(), response)

    reads = store.Reads(accounts=(body.account_id,),
                        usage=tuple(limits.payer_usage_keys(ctx, body.account_id)),
                        definitions=tuple(limits.definition_keys(ctx)))
    return movements.run(reads, decide, hold_outcomes(hold_id, request_hash))


def settled_outcomes(hold_id: str, request_hash: str, to_status: str) -> movements.Outcomes:
    """A capture's or release's outcome is the hold's state: replayed to the same request, refused to any
    other once settled. Refusals are not recorded (the hold's state already is the record)."""

    def replay(old_item: dict[str, Any] | None) -> dict[str, Any]:
        hold = Hold.from_raw_data(old_item) if old_item else store.get_hold(hold_id)
        if hold is None:
            raise HoldNotFound()
        if hold.status == to_status and hold.settled and (to_status == "released" or hold.settle_hash == request_hash):
            return dict(json.loads(hold.settled))
        expired = hold.status == "active" and int(hold.expires_epoch) <= int(datetime.now(UTC).timestamp())
        if expired or (to_status == "captured" and hold.closed_reason == "expired"):
            raise HoldExpired()  # the same answer before and after the sweeper released it
        if hold.status == "active":
            raise Conflict("Retry the same request.", code="CONCURRENT_UPDATE")
        raise HoldNotActive(details={"status": hold.status, "reason": hold.closed_reason})

    def refuse(error: ApiError) -> dict[str, Any]:
        raise error

    return movements.Outcomes(replay, refuse)


def the_hold(snapshot: store.Snapshot, hold_id: str, account_id: str, kinds: tuple[str, ...] = ("hold",)) -> Hold:
    """The hold as read; settled ones are replayed (AlreadyDecided)."""
    found = snapshot.holds.get(hold_id)
    if found is None or found.account_id != account_id or found.kind not in kinds or found.status == "refused":
        raise HoldNotFound()
    if found.status != "active":
        raise movements.AlreadyDecided(found.serialize())
    return found


def give_back_rest(mv: Movement, found: Hold, rest: int) -> None:
    """What a partial capture leaves of the hold goes back to its limits (amount only: the payment counts once)."""
    if rest <= 0:
        return
    returned = [limits.UsageDelta(d.key, rest, 0) for d in limits.deltas_from_json(found.usage)]
    for item in limits.give_back(returned, mv.at):
        mv.add(store.Part(item))


def explained_parts(items: list[dict[str, Any]], explain_all: Callable[[list[Cancellation]], None]) -> list[store.Part]:
    """Marketing items as parts of a money transaction: a failed condition on item i is what the marketing
    module's explain function (`explain_all(reasons)`, raising) says of a cancellation at i."""

    def explain_at(index: int) -> store.Explain:
        def explain(old: dict[str, Any] | None) -> ApiError | None:
            reasons = [Cancellation("None", None)] * len(items)
            reasons[index] = Cancellation("ConditionalCheckFailed", old)
            try:
                explain_all(reasons)
            except ApiError as refusal:
                return refusal
            return None

        return explain

    return [store.Part(item, explain=explain_at(i)) for i, item in enumerate(items)]


def redemption_parts(redemption: marketing_effects.Redemption, payment_id: str, at: datetime) -> list[store.Part]:
    """The coupons' items for the capture's transaction (decision 0043): a coupon redeemed meanwhile, a budget
    or a device's count used up refuses the whole capture."""
    items = marketing_effects.redemption_items(redemption, payment_id, int(at.timestamp() * 1000))
    return explained_parts(items, lambda reasons: marketing_effects.explain_redemption(redemption, reasons))


def earn_parts(earn: marketing_effects.PointsEarn, customer_id: str, hold_id: str, at: datetime) -> list[store.Part]:
    """One campaign's points for the capture's transaction (decision 0044): entered once per (hold, campaign);
    a points budget spent meanwhile refuses the capture with BUDGET_EXHAUSTED (action points), which the caller
    retries without the earn."""
    items = marketing_effects.earn_items(earn, customer_id, hold_id, at)
    return explained_parts(items, lambda reasons: marketing_effects.explain_earn(earn, reasons))


def capture(payload: dict[str, Any]) -> dict[str, Any]:
    body = schema.decode(payload, CaptureIn)
    request_hash = idempotency.request_hash("capture", schema.to_builtins(body))
    at = datetime.now(UTC)
    destination = body.destination
    redemption = marketing_effects.Redemption.from_plan(body.redemption) if body.redemption else None
    earns = [marketing_effects.PointsEarn.from_plan(e) for e in (body.earn or {}).get("earns", [])]

    def decide(snapshot: store.Snapshot, attempt: movements.Attempt) -> movements.Plan:
        found = the_hold(snapshot, body.hold_id, body.account_id)
        if int(found.expires_epoch) <= int(at.timestamp()):
            raise HoldExpired()
        held = int(found.amount)
        amount = held if body.amount is None else int(body.amount)
        if amount > held:
            raise CaptureExceedsHold(details={"held": format_fen(held)})
        account = snapshot.accounts.get(body.account_id)
        if account is None:
            raise HoldNotFound()
        if redemption is not None and redemption.customer_id != account.customer_id:
            raise HoldNotFound()  # a plan prepared for someone else is as good as no hold
        discount = redemption.discount if redemption is not None else 0
        mv = Movement("capture", body.memo or found.memo, at, attempt)
        mv.debit(account, amount, destination, held=held)
        if discount:  # the bank pays the coupons' part: marketing expense → the payee, same transaction
            mv.journal(GL_MARKETING, -discount, destination)
        credit_checked(mv, snapshot, snapshot.accounts.get(destination), amount + discount, account.account_id,
                       account.account_id)
        give_back_rest(mv, found, held - amount)
        if redemption is not None:
            for part in redemption_parts(redemption, body.hold_id, at):
                mv.add(part)
        for earn in earns:
            for part in earn_parts(earn, account.customer_id, body.hold_id, at):
                mv.add(part)
        response = {"hold_id": body.hold_id, "status": "captured", "transfer_id": mv.transfer_id,
                    "amount": format_fen(amount), "released": format_fen(held - amount), "destination": destination}
        if discount:
            response["discount"] = format_fen(discount)
        mv.add(store.Part(store.put(mv.record(store.txn_pk(f"CAPTURE#{body.hold_id}"), request_hash, response))))
        record = store.hold_transition(body.hold_id, "captured", now=at, unexpired=True, changes={
            "captured_amount": n(amount), "settled": s(json.dumps(response)), "settle_hash": s(request_hash),
            "closed_reason": s("captured")})
        return mv.plan(record, response)

    reads = store.Reads(accounts=(body.account_id, destination), holds=(body.hold_id,),
                        usage=tuple(limits.account_usage_keys(destination, "IN", at)),
                        definitions=tuple(limits.account_type_key(t) for t in limits.CAPPED_ACCOUNT_TYPES))
    return movements.run(reads, decide, settled_outcomes(body.hold_id, request_hash, "captured"))


def release(payload: dict[str, Any], reason: str = "released") -> dict[str, Any]:
    body = schema.decode(payload, ReleaseIn)
    request_hash = idempotency.request_hash("release", schema.to_builtins(body))
    at = datetime.now(UTC)

    def decide(snapshot: store.Snapshot, attempt: movements.Attempt) -> movements.Plan:
        found = the_hold(snapshot, body.hold_id, body.account_id, kinds=("hold", "outbound"))
        response = {"hold_id": body.hold_id, "status": "released", "amount": format_fen(int(found.amount)),
                    "reason": reason}
        parts = [store.Part(store.unreserve_update(found.account_id, int(found.amount)))]
        parts += [store.Part(item) for item in limits.give_back(limits.deltas_from_json(found.usage), at)]
        changes = {"settled": s(json.dumps(response)), "closed_reason": s(reason)}
        if found.kind == "outbound":
            changes["clearing_status"] = s(reason if reason in ("returned", "expired") else "released")
        record = store.hold_transition(body.hold_id, "released", now=at, changes=changes)
        return movements.Plan(record, parts, response)

    return movements.run(store.Reads(holds=(body.hold_id,)), decide,
                         settled_outcomes(body.hold_id, request_hash, "released"))


def refund(payload: dict[str, Any]) -> dict[str, Any]:
    """Give a captured hold's money back to the account it came from (a bill its biller refused): the
    capture's destination is debited in place (it must hold the money: a settlement account's journal must
    have been folded) and the payer credited, as one double-entry movement. On the capture's Asia/Shanghai
    day the limit usage the payment counted for is given back. One refund per hold: its record is keyed by
    the hold, so every retry replays it; a refusal is not recorded (money not yet folded may be there on
    the next try)."""
    body = schema.decode(payload, RefundIn)
    found = store.get_hold(body.hold_id)
    if found is None or found.account_id != body.account_id or found.status == "refused":
        raise HoldNotFound()
    capture_record = store.record_of(store.txn_pk(f"CAPTURE#{body.hold_id}"))
    if found.status != "captured" or capture_record is None:
        raise HoldNotActive(details={"status": found.status, "reason": found.closed_reason})
    legs = legs_of(capture_record)
    source = next(account for account, delta in legs if delta > 0)
    amount = int(found.captured_amount)  # the customer's part
    discount = -sum(delta for account, delta in legs if account == GL_MARKETING)  # the coupons' part
    record_pk = store.txn_pk(f"REFUND#{body.hold_id}")
    request_hash = idempotency.request_hash("refund", {"hold_id": body.hold_id})
    at = datetime.now(UTC)
    captured_at = datetime.fromisoformat(capture_record.created_at.replace("Z", "+00:00"))

    def decide(snapshot: store.Snapshot, attempt: movements.Attempt) -> movements.Plan:
        payer, collected = snapshot.accounts.get(body.account_id), snapshot.accounts.get(source)
        if payer is None or collected is None or payer.status == "closed":
            raise NotReversible("An account of this payment no longer exists or is closed.")
        if int(collected.available) < amount + discount:
            raise InsufficientFunds("The collecting account does not hold the money yet; retry later.")
        mv = Movement("refund", body.memo or f"refund of {capture_record.transfer_id}", at, attempt)
        mv.debit(collected, amount + discount, payer.account_id, statuses=("active", "frozen", "suspended"))
        mv.credit(payer, amount, source, refusal=NotReversible,
                  max_balance=snapshot.definitions.max_balance(payer.account_type))
        if discount:  # the coupons' part goes back to the marketing expense account that paid it
            mv.journal(GL_MARKETING, discount, source)
        returned = [limits.UsageDelta(d.key, amount, d.count) for d in limits.deltas_from_json(found.usage)] \
            if limits.same_day(captured_at, at) else []
        for item in limits.give_back(returned, at):
            mv.add(store.Part(item))
        response = {"hold_id": body.hold_id, "status": "refunded", "transfer_id": mv.transfer_id,
                    "refunds": capture_record.transfer_id, "amount": format_fen(amount),
                    "account_id": payer.account_id, "quota_returned": bool(returned)}
        if discount:
            response["discount"] = format_fen(discount)
        return mv.plan(store.put(mv.record(record_pk, request_hash, response)), response)

    ledger = movements.ledger_outcomes(record_pk, request_hash, at)
    if store.record_of(record_pk) is not None:  # refunded already: the first answer (the money has moved)
        return ledger.replay(None)

    def refuse(error: ApiError) -> dict[str, Any]:
        if store.record_of(record_pk) is not None:  # a parallel refund moved it meanwhile
            return ledger.replay(None)
        raise error

    reads = store.Reads(accounts=(body.account_id, source),
                        definitions=tuple(limits.account_type_key(t) for t in limits.CAPPED_ACCOUNT_TYPES))
    return movements.run(reads, decide, movements.Outcomes(ledger.replay, refuse))


def get_hold(payload: dict[str, Any]) -> dict[str, Any]:
    """A hold's state, for the center that made it."""
    found = store.get_hold(str(payload.get("hold_id", "")))
    if found is None or found.account_id != payload.get("account_id") or found.status == "refused":
        raise HoldNotFound()
    return {"hold_id": found.hold_id, "status": found.status, "account_id": found.account_id,
            "amount": format_fen(int(found.amount)), "expires_at": found.expires_at,
            "captured_amount": None if found.captured_amount is None else format_fen(int(found.captured_amount)),
            "reason": found.closed_reason}


def sweep(now: datetime | None = None) -> dict[str, Any]:
    """Release every active hold whose expiry has passed (the scheduled sweeper). A capture racing with it
    loses (it is refused past the expiry anyway); a hold released meanwhile is skipped."""
    at = now or datetime.now(UTC)
    released, skipped = 0, 0
    for hold_id in store.expired_holds(at, SWEEP_BATCH):
        found = store.get_hold(hold_id)
        if found is None or found.status != "active":
            skipped += 1
            continue
        try:
            release({"hold_id": hold_id, "account_id": found.account_id}, reason="expired")
            released += 1
        except ApiError as exc:  # settled meanwhile
            obs.log().info("expired hold not released", extra={"hold": hold_id, "code": exc.code})
            skipped += 1
    if released:
        obs.emit_metric("HoldsExpired", released)
    return {"released": released, "skipped": skipped}
