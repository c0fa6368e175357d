"""Bill payment orders: the rules (docs/decisions/0040).

pending (held) → paid (captured to the biller's settlement account) → processing (the worker sent it to the
biller) → succeeded | failed → refunded; a hold the account center refuses makes the order `refused` (no
money moved), and a payment the biller leaves unanswered past the biller's `max_processing_hours` goes to
`review` (a person decides; never a blind refund). Every change is a conditional write from the states it
may leave, so a late callback after a poll, or two callbacks, change the order once.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bank_common import aws, client, config, idempotency, marketing_effects, obs, ratelimit, schema
from bank_common.client import CenterUnavailable
from bank_common.errors import ApiError, Conflict, IdempotencyKeyReused, NotFound
from bank_common.money import format_fen
from bank_common.principal import Principal
from life_center import billers, store
from life_center.billers import BillerResult, BillerTimeout, PaymentOrder
from life_center.models import Order
from life_center.schemas import BillOut, OrderOut, PayIn

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLD_SECONDS = 900
REQUEUE_AFTER = timedelta(minutes=2)  # a paid order the worker never took is sent again
POLL_BATCH = 100
RACE_RETRIES = 5
FINAL = ("succeeded", "refunded", "refused")
# The states an order may enter each state from: every change is a conditional write of this table, so a late
# callback after a poll, or two callbacks, change an order once, and nothing leaves a final state.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "refused": ("pending",),  # the account center refused the hold: no money moved
    "paid": ("pending",),  # captured to the biller's settlement account
    "processing": ("paid",),  # the worker took it and is asking the biller
    "succeeded": ("paid", "processing", "review"),
    "failed": ("paid", "processing", "review"),
    "refunded": ("failed",),  # only a failure is refunded: a timeout never is
    "review": ("processing",),  # unanswered past the biller's max_processing_hours: a person decides
}


def next_status(current: str, wanted: str) -> str:
    """What a change to `wanted` leaves an order in `current` in (the pure form of the conditional write)."""
    return wanted if current in TRANSITIONS[wanted] else current


def move(order_no: str, to_status: str, **changes: Any) -> Order | None:
    return store.transition(order_no, TRANSITIONS[to_status], to_status, **changes)


class OrderNotFound(NotFound):
    code, message = "ORDER_NOT_FOUND", "No such bill payment."


class ResultConflict(Conflict):
    code, message = "RESULT_CONFLICT", "The order already has another result."


class AmountMismatch(ApiError):
    status, code, message = 422, "AMOUNT_MISMATCH", "The amount is not the order's."


def order_no_for(customer_id: str, key: str) -> str:
    """The order number from who paid and their Idempotency-Key: a retry names the same order."""
    return "L" + hashlib.sha256(idempotency.scoped(customer_id, key).encode()).hexdigest()[:31]


EARNED = ("paid", "processing", "succeeded", "review")  # the points of a refunded order are reversed


def points_of(order: Order) -> int | None:
    earns = json.loads(order.earn)["earns"] if order.earn else []
    return sum(int(e["points"]) for e in earns) or None


def business_date(at: datetime) -> str:
    return at.astimezone(SHANGHAI).date().isoformat()


def view(order: Order) -> OrderOut:
    return OrderOut(order_no=order.order_no, status=order.status, biller_id=order.biller_id,  # type: ignore[arg-type]
                    customer_number=order.customer_number, account_id=order.account_id,
                    amount=format_fen(int(order.amount)), created_at=order.created_at, updated_at=order.updated_at,
                    biller_ref=order.biller_ref, business_date=order.business_date, reason=order.reason,
                    discount=format_fen(int(order.discount)) if order.discount else None,
                    points=points_of(order) if order.status in EARNED else None)


# --- queries ------------------------------------------------------------------------------------------

# Bill queries name a payee (masked) for any number: counted per customer, so no one walks a biller's numbers.
QUERY_RULE = ratelimit.Rule("bill-query", 60, seconds=600)


def query_bill(customer_id: str, biller_id: str, customer_number: str) -> BillOut:
    found = billers.biller(biller_id)
    found.check_customer_number(customer_number)
    ratelimit.check("LIFE_TABLE", [ratelimit.Hit(QUERY_RULE, customer_id)])
    bill = billers.gateway().query(found, customer_number)
    return BillOut(biller_id=found.biller_id, customer_number=customer_number,
                   payee_name=billers.mask_name(bill.payee_name),
                   amount_due=None if bill.amount_due is None else format_fen(bill.amount_due),
                   denominations=found.denominations, due_date=bill.due_date)


def get_for(customer_id: str, order_no: str) -> OrderOut:
    order = store.get_order(order_no)
    if order is None or order.customer_id != customer_id:
        raise OrderNotFound()
    return view(order)


# --- paying -------------------------------------------------------------------------------------------

def settlement_account(biller_id: str) -> str:
    """The biller's settlement account at the account center (opened on first use, the same one after: the
    call is idempotent and one read there, so it is not cached across invocations)."""
    opened = client.call("account", "open_settlement_account", {"center": "life", "purpose": biller_id})
    return str(opened["account_id"])


def pay(caller: Principal, channel: str, key: str, body: PayIn) -> OrderOut:
    """Take the order (idempotent by the customer's key), hold the money, capture it to the biller's
    settlement account and queue the order for the biller. A retry with the same key and body resumes or
    replays; another body is 422 IDEMPOTENCY_KEY_REUSED."""
    found = billers.biller(body.biller_id)
    found.check_customer_number(body.customer_number)
    found.check_amount(int(body.amount))
    order_no = order_no_for(caller.subject, key)
    request_hash = idempotency.request_hash("pay_bill", schema.to_builtins(body))
    at = store.now()
    order = Order(store.order_pk(order_no), "ORDER", order_no=order_no, status="pending", customer_id=caller.subject,
                  account_id=body.account_id, channel=channel, biller_id=found.biller_id,
                  customer_number=body.customer_number, amount=int(body.amount), request_hash=request_hash,
                  coupon_codes=json.dumps(body.coupon_codes) if body.coupon_codes else None,
                  created_at=at, updated_at=at)
    existing = store.create_order(order)
    if existing is not None:
        if existing.request_hash != request_hash:
            raise IdempotencyKeyReused()
        order = existing
    return view(advance(order, caller))


def advance(order: Order, caller: Principal) -> Order:
    """Take a pending order as far as it goes now (each step idempotent, so parallel retries converge)."""
    if order.status == "refused":
        raise _refusal(order)
    if order.status != "pending":
        return order
    if order.earn is None:
        order = prepare_effects(order, caller)
        if order.status != "pending":  # a parallel retry took it further meanwhile
            return advance(order, caller)
    # the customer's part is held; the coupons' part is paid by the bank in the capture (decision 0043)
    payload = {"caller": "life", "idempotency_key": order.order_no, "customer_id": order.customer_id,
               "account_id": order.account_id, "amount": format_fen(int(order.amount) - int(order.discount or 0)),
               "txn_type": "bill_pay",
               "channel": order.channel, "auth_level": caller.auth_level or "L1",
               "expires_in_seconds": HOLD_SECONDS, "destination": settlement_account(order.biller_id),
               "memo": f"bill {order.biller_id}"}
    try:
        held = _account("hold", payload)
    except ApiError as refusal:
        if not decided(refusal):  # nothing decided (an outage): the same request resumes
            raise
        return _refuse(order, refusal)
    try:
        captured, order = capture(order, str(held["hold_id"]), str(payload["destination"]))
    except ApiError as refusal:
        if not decided(refusal) and refusal.code not in COUPON_REFUSALS:
            raise
        # e.g. the hold expired before a late retry resumed it: give the reservation back now, not at expiry
        _release_quietly(str(held["hold_id"]), order.account_id)
        return _refuse(order, refusal)
    paid_at = datetime.now(UTC)
    day = business_date(paid_at)
    moved = move(order.order_no, "paid", hold_id=str(held["hold_id"]), transfer_id=str(captured["transfer_id"]),
                 paid_at=store.now(), business_date=day, biller_date=f"{order.biller_id}#{day}")
    if moved is None:  # a parallel retry got there first
        return store.get_order(order.order_no) or order
    obs.emit_metric("BillPaymentsPaid", 1)
    send(order.order_no)
    return store.get_order(order.order_no) or moved


# A capture refused for its coupons (used by another payment meanwhile, a budget or a device's count spent):
# final for this order, whose hold is released (no money moved, no coupon used).
COUPON_REFUSALS = (marketing_effects.CouponNotRedeemable.code, marketing_effects.BudgetExhausted.code,
                   marketing_effects.CouponDeviceLimit.code)


def prepare_effects(order: Order, caller: Principal) -> Order:
    """The marketing center checks the coupons (min spend, channel, expiry, stacking, limits) and prepares the
    redemption, and judges the points the payment earns; both plans are kept on the order, so a retry sends the
    same capture. Points are a bonus: if the marketing center cannot answer that, the payment earns none."""
    plan: dict[str, Any] | None = None
    if order.coupon_codes:
        try:
            plan = client.call("marketing", "prepare_redemption", {
                "customer_id": order.customer_id, "channel": order.channel,
                "codes": json.loads(order.coupon_codes), "amount": int(order.amount),
                "device_id": caller.device_id or ""})
        except ApiError as refusal:
            if not decided(refusal):
                raise
            return _refuse(order, refusal)
    try:
        earn = client.call("marketing", "prepare_earn", {"customer_id": order.customer_id, "channel": order.channel,
                                                         "amount": int(order.amount)})
    except ApiError as exc:
        obs.log().warning("points not judged", extra={"order": order.order_no, "code": exc.code})
        obs.emit_metric("PointsNotJudged", 1)
        earn = {"earns": []}
    kept = store.keep_effects(order.order_no, json.dumps(plan) if plan else None,
                              int(plan["discount"]) if plan else 0, json.dumps(earn))
    return kept or order


def capture_memo(order: Order) -> str:
    """What the statement says of the debit: with coupons, what they paid of the bill."""
    memo = f"bill {order.biller_id} {order.order_no}"
    if order.discount:
        memo += f" (bill {format_fen(int(order.amount))}, coupons {format_fen(int(order.discount))})"
    return memo


def capture(order: Order, hold_id: str, destination: str) -> tuple[dict[str, Any], Order]:
    """Capture the hold with the kept plans (coupons, points). A points budget spent since the plan refuses the
    capture: then it goes on without the points (a payment is never refused for a bonus)."""
    for _ in range(2):
        plan = json.loads(order.redemption) if order.redemption else None
        earn = json.loads(order.earn) if order.earn else {"earns": []}
        try:
            return _account("capture", {"hold_id": hold_id, "account_id": order.account_id, "destination": destination,
                                        "memo": capture_memo(order),
                                        **({"redemption": plan} if plan else {}),
                                        **({"earn": earn} if earn["earns"] else {})}), order
        except ApiError as refusal:
            points_spent = refusal.code == marketing_effects.BudgetExhausted.code and \
                (refusal.details or {}).get("action") == "points"
            if not (points_spent and earn["earns"]):
                raise
            order = store.drop_earn(order.order_no) or order
    raise AssertionError("unreachable: the second capture carries no points")


def _account(operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An account-center operation, again after a lost race (CONCURRENT_UPDATE decided nothing; the same
    request is idempotent there)."""
    for attempt in range(RACE_RETRIES):
        try:
            return client.call("account", operation, payload)
        except ApiError as error:
            if error.code != "CONCURRENT_UPDATE" or attempt == RACE_RETRIES - 1:
                raise
            time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))
    raise AssertionError("unreachable")


def _release_quietly(hold_id: str, account_id: str) -> None:
    try:
        client.call("account", "release", {"hold_id": hold_id, "account_id": account_id})
    except ApiError as exc:  # settled meanwhile, or the sweeper releases it at expiry
        obs.log().warning("hold not released", extra={"hold": hold_id, "code": exc.code})


def decided(error: ApiError) -> bool:
    """A refusal the account center recorded as final (insufficient funds, a cap, not the customer's
    account, an expired hold), as opposed to an outage or a lost race."""
    return 400 <= error.status < 500 and error.status != 409 and not isinstance(error, CenterUnavailable)


def _refusal(order: Order) -> ApiError:
    error = json.loads(order.error or "{}")
    return ApiError(error.get("message"), code=error.get("code", "REFUSED"), status=int(order.http_status or 422),
                    details=error.get("details"))


def _refuse(order: Order, refusal: ApiError) -> Order:
    error = {"code": refusal.code, "message": refusal.message, "details": refusal.details}
    move(order.order_no, "refused", error=json.dumps(error), http_status=refusal.status, reason=refusal.code)
    raise _refusal(store.get_order(order.order_no) or order)


def send(order_no: str) -> None:
    aws.client("sqs").send_message(QueueUrl=config.env("BILLER_QUEUE_URL"),
                                   MessageBody=json.dumps({"order_no": order_no}))


# --- the biller's side --------------------------------------------------------------------------------

def payment_of(order: Order) -> PaymentOrder:
    return PaymentOrder(order.order_no, order.customer_number, int(order.amount))


def dispatch(message: dict[str, Any]) -> None:
    """The queue worker: a paid order goes to its biller once (paid → processing first, so a redelivered
    message finds it taken). A timeout leaves it processing for the poller; a refusal refunds."""
    order = store.get_order(str(message.get("order_no", "")))
    if order is None or order.status != "paid":
        return
    taken = move(order.order_no, "processing")
    if taken is None:
        return
    found = billers.biller(order.biller_id)
    try:
        result = billers.gateway().pay(found, payment_of(order))
    except BillerTimeout:
        obs.log().warning("biller timed out", extra={"order": order.order_no, "biller": order.biller_id})
        obs.emit_metric("BillerTimeouts", 1)
        return
    _settle_quietly(order.order_no, result)


def _settle_quietly(order_no: str, result: BillerResult) -> None:
    """The worker's and the poller's settle: an order a callback settled otherwise meanwhile is a conflict for
    ops (logged, counted, alarmed), not a reason to fail the message or the poller's run."""
    try:
        settle(order_no, result)
    except ResultConflict:
        pass


def settle(order_no: str, result: BillerResult) -> Order:
    """Apply a biller's answer (worker, poller or callback). Processing answers change nothing; a final
    answer changes the order once; a failure is refunded. Another final answer than the one the order has
    is a 409 RESULT_CONFLICT (and an alarm)."""
    if result.status == "processing":
        return store.get_order(order_no) or _missing(order_no)
    moved = move(order_no, result.status, biller_ref=result.biller_ref, reason=result.reason)
    if moved is None:
        order = store.get_order(order_no) or _missing(order_no)
        same = order.status == result.status or (result.status == "failed" and order.status == "refunded")
        if not same:
            obs.log().error("conflicting biller result", extra={"order": order_no, "has": order.status,
                                                                 "got": result.status})
            obs.emit_metric("BillerResultConflicts", 1)
            raise ResultConflict(details={"status": order.status})
        return order
    obs.emit_metric(f"BillPayments{result.status.capitalize()}", 1)
    if result.status == "failed":
        return refund(order_no)
    return store.get_order(order_no) or moved


def _missing(order_no: str) -> Order:
    raise OrderNotFound()


def refund(order_no: str) -> Order:
    """A failed order's money back to the account it came from, through the account center (one refund per
    hold, however often this runs). If the biller's settlement account does not hold the money yet (its
    journal not folded) or the center does not answer, the order stays failed and the poller tries again."""
    order = store.get_order(order_no) or _missing(order_no)
    if order.status != "failed":
        return order
    try:
        refunded = client.call("account", "refund_capture", {"hold_id": order.hold_id, "account_id": order.account_id,
                                                              "memo": f"refund of bill {order.order_no}"})
    except ApiError as exc:
        obs.log().warning("refund not done yet", extra={"order": order_no, "code": exc.code})
        obs.emit_metric("BillRefundsWaiting", 1)
        return order
    if not (rollback_coupons(order) and reverse_points(order)):
        return order  # the money is back; the coupons and points follow on the poller's next try
    moved = move(order_no, "refunded", refund_transfer_id=str(refunded["transfer_id"]))
    if moved is not None:
        obs.emit_metric("BillPaymentsRefunded", 1)
    return store.get_order(order_no) or order


def rollback_coupons(order: Order) -> bool:
    """A refunded order's coupons back to the customer (the marketing center's rollback, idempotent)."""
    plan = json.loads(order.redemption) if order.redemption else {"coupons": []}
    for coupon in plan["coupons"]:
        try:
            client.call("marketing", "rollback_coupon", {"code": coupon["code"], "payment_id": order.hold_id})
        except ApiError as exc:
            obs.log().warning("coupon not given back yet", extra={"order": order.order_no, "code": exc.code})
            obs.emit_metric("CouponRollbacksWaiting", 1)
            return False
    return True


def reverse_points(order: Order) -> bool:
    """A refunded order's points taken back (the marketing center's reversal, idempotent)."""
    for earn in (json.loads(order.earn) if order.earn else {"earns": []})["earns"]:
        try:
            client.call("marketing", "reverse_points", {"customer_id": order.customer_id,
                                                        "source_event": order.hold_id, "rule": earn["campaign_id"]})
        except ApiError as exc:
            if exc.code == "POINTS_EARN_NOT_FOUND":  # the capture went on without them (their budget ran out)
                continue
            obs.log().warning("points not reversed yet", extra={"order": order.order_no, "code": exc.code})
            obs.emit_metric("PointsReversalsWaiting", 1)
            return False
    return True


def poll(now: datetime | None = None) -> dict[str, int]:
    """The scheduled poller: send again paid orders the worker never took; ask the biller about processing
    ones (to review once past the biller's max_processing_hours: a person decides, no blind refund); retry
    refunds of failed ones."""
    at = now or datetime.now(UTC)
    counts = {"requeued": 0, "settled": 0, "review": 0, "refunded": 0, "unanswered": 0}
    for order_no in store.open_orders("paid", _iso(at - REQUEUE_AFTER), POLL_BATCH):
        send(order_no)
        counts["requeued"] += 1
    for order_no in store.open_orders("processing", _iso(at), POLL_BATCH):
        order = store.get_order(order_no)
        if order is None or order.status != "processing":
            continue
        found = billers.biller(order.biller_id)
        since = datetime.fromisoformat((order.processing_since or order.updated_at).replace("Z", "+00:00"))
        try:
            result = billers.gateway().status(found, payment_of(order))
        except BillerTimeout:
            result = BillerResult("processing")
        if result.status != "processing":
            _settle_quietly(order_no, result)
            counts["settled"] += 1
        elif at - since > timedelta(hours=found.max_processing_hours):
            if move(order_no, "review", reason="unanswered"):
                obs.emit_metric("BillPaymentsToReview", 1)
                counts["review"] += 1
        else:
            if result.reason == "not_received":
                _resend(found, order)
            counts["unanswered"] += 1
    for order_no in store.open_orders("failed", _iso(at), POLL_BATCH):
        if refund(order_no).status == "refunded":
            counts["refunded"] += 1
    return counts


def _resend(found: billers.Biller, order: Order) -> None:
    """The biller never received it (the worker stopped between taking it and sending): send it again."""
    try:
        result = billers.gateway().pay(found, payment_of(order))
    except BillerTimeout:
        return
    _settle_quietly(order.order_no, result)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def callback(biller_id: str, raw_body: bytes, timestamp: str | None, signature: str | None,
             body: Any) -> dict[str, str]:
    """A biller's signed result: verified with its secret, applied once; the same result again is answered
    the same; an unknown order (or another biller's) is 404."""
    from life_center import signing

    found = billers.biller(biller_id)
    signing.verify(billers.secret_of(found), timestamp, signature, raw_body)
    order = store.get_order(body.order_no)
    if order is None or order.biller_id != found.biller_id:
        raise OrderNotFound()
    if int(body.amount) != int(order.amount):
        raise AmountMismatch()
    settled = settle(order.order_no, BillerResult(body.status, body.biller_ref, body.reason or None))
    return {"order_no": settled.order_no, "status": settled.status}
