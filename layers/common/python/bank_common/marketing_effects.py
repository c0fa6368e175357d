"""Marketing effects that commit in the same transaction as the money they belong to (issue 10).

The marketing center owns its budgets, and a money operation (a payment with a coupon, a cashback) appends
the marketing items this module builds to its OWN TransactWriteItems, as it does with the limits module's
usage counters and `stepup.consume_item` (DESIGN 5): the money refused → no budget consumed; the budget
refused → no money moved.

Budgets: a campaign declares `action x limit x period x entity` (entity: the whole campaign, one customer or
one device; period: the campaign's life or an Asia/Shanghai day, ISO week or month). Every budget that
applies to a use is one counter item `used`, raised by a conditional update: `used + x <= limit` is written
as `used <= limit - x` (DynamoDB conditions cannot add), so no number of concurrent writers can push it over,
and a release lowers it only while `used >= x`, so it is never negative.

Two ways to use a budget:
- two-phase, for flows that span centers: `reserve_items` (the counters plus a reservation that expires after
  RESERVATION_TTL_SECONDS) → `confirm_item` inside the money transaction → or `release_items`; a sweeper
  releases reservations nobody confirmed (the marketing center's SweepBudgetReservationsFunction);
- one-phase, inside the money transaction itself: `consume_items` (the counters only).

A money function that uses this names the marketing center's budgets table in BUDGETS_TABLE and may
UpdateItem (and PutItem, for reservations) there, conditioned on `dynamodb:LeadingKeys` `BUDGET#*`/`RES#*`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bank_common import config
from bank_common.ddb import Cancellation, n, s
from bank_common.errors import BusinessRuleViolation, Conflict

TABLE_ENV = "BUDGETS_TABLE"
RESERVATION_TTL_SECONDS = 15 * 60
COUNTER_PREFIX, RESERVATION_PREFIX = "BUDGET#", "RES#"
OPEN = "OPEN"  # the by_expiry index's key while a reservation is neither confirmed nor released

ACTIONS = ("redeem", "discount", "cashback", "points")
PERIODS = ("campaign", "day", "week", "month")
ENTITIES = ("campaign", "customer", "device")


class BudgetExhausted(BusinessRuleViolation):
    code, message = "BUDGET_EXHAUSTED", "The campaign's budget for this does not allow it."


class ReservationNotActive(Conflict):
    code, message = "RESERVATION_NOT_ACTIVE", "The budget reservation expired, was released or was confirmed."


@dataclass(frozen=True)
class Budget:
    action: str
    limit: int  # in the action's unit: fen for money actions, points for points
    period: str
    entity: str


@dataclass(frozen=True)
class Counter:
    """One budget's counter item for one use: its key and the budget it counts against."""

    key: str
    budget: Budget


def table() -> str:
    return config.env(TABLE_ENV)


def period_key(period: str, at: datetime) -> str:
    """The Asia/Shanghai calendar period `at` falls in (aware datetimes): D20261128, W2026-48 (ISO week,
    Monday first), M202611, or ALL for the campaign's whole life."""
    if period == "campaign":
        return "ALL"
    local = at.astimezone(config.SHANGHAI)
    if period == "day":
        return local.strftime("D%Y%m%d")
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"W{year}-{week:02d}"
    if period == "month":
        return local.strftime("M%Y%m")
    raise ValueError(f"unknown budget period {period!r}")


def period_start(period: str, at: datetime) -> datetime | None:
    """When the Asia/Shanghai period holding `at` began (None for the campaign's whole life)."""
    if period == "campaign":
        return None
    day = at.astimezone(config.SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown budget period {period!r}")


def entity_id(entity: str, customer_id: str, device_id: str) -> str:
    return {"campaign": "-", "customer": customer_id, "device": device_id or "-"}[entity]


def counters(campaign_id: str, budgets: list[Budget], action: str, at: datetime, customer_id: str,
             device_id: str = "") -> list[Counter]:
    """The counter items a use of `action` at `at` counts against (one per budget of that action)."""
    out = []
    for budget in budgets:
        if budget.action != action:
            continue
        ident = entity_id(budget.entity, customer_id, device_id)
        key = (f"{COUNTER_PREFIX}{campaign_id}#{action}#{budget.entity}#{ident}#{budget.period}"
               f"#{period_key(budget.period, at)}")
        out.append(Counter(key, budget))
    return out


def fits(counter_list: list[Counter], amount: int) -> Counter | None:
    """The first budget that could never take `amount`, whatever it has used (refused before writing)."""
    return next((c for c in counter_list if amount > c.budget.limit), None)


def _raise_item(counter: Counter, amount: int, campaign_id: str) -> dict[str, Any]:
    return {"Update": {
        "TableName": table(),
        "Key": {"pk": s(counter.key)},
        "UpdateExpression": "SET #used = if_not_exists(#used, :zero) + :x, #limit = :limit, campaign_id = :c",
        "ConditionExpression": "attribute_not_exists(#used) OR #used <= :room",
        "ExpressionAttributeNames": {"#used": "used", "#limit": "limit"},
        "ExpressionAttributeValues": {":zero": n(0), ":x": n(amount), ":limit": n(counter.budget.limit),
                                      ":room": n(counter.budget.limit - amount), ":c": s(campaign_id)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


def consume_items(campaign_id: str, counter_list: list[Counter], amount: int) -> list[dict[str, Any]]:
    """One-phase: the counters' conditional raises, for the money's own transaction."""
    return [_raise_item(c, amount, campaign_id) for c in counter_list]


def reserve_items(reservation_id: str, campaign_id: str, action: str, amount: int, counter_list: list[Counter],
                  customer_id: str, device_id: str, now_ms: int) -> list[dict[str, Any]]:
    """The counters' conditional raises, then the reservation (put once: its id makes a retry a replay)."""
    reservation = {
        "pk": s(RESERVATION_PREFIX + reservation_id), "reservation_id": s(reservation_id),
        "campaign_id": s(campaign_id), "action": s(action), "amount": n(amount),
        "counters": s(json.dumps([c.key for c in counter_list])), "customer_id": s(customer_id),
        "device_id": s(device_id or "-"), "status": s("reserved"), "created_at_ms": n(now_ms),
        "expires_at_ms": n(now_ms + RESERVATION_TTL_SECONDS * 1000), "open": s(OPEN),
    }
    return [*consume_items(campaign_id, counter_list, amount), {"Put": {
        "TableName": table(), "Item": reservation, "ConditionExpression": "attribute_not_exists(pk)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}]


def confirm_item(reservation_id: str, now_ms: int) -> dict[str, Any]:
    """Confirm a live reservation (for the money's transaction): refused once expired, released or confirmed."""
    return {"Update": {
        "TableName": table(),
        "Key": {"pk": s(RESERVATION_PREFIX + reservation_id)},
        "UpdateExpression": "SET #status = :confirmed, confirmed_at_ms = :now REMOVE #open",
        "ConditionExpression": "#status = :reserved AND expires_at_ms > :now",
        "ExpressionAttributeNames": {"#status": "status", "#open": "open"},
        "ExpressionAttributeValues": {":confirmed": s("confirmed"), ":reserved": s("reserved"), ":now": n(now_ms)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


def release_items(reservation: dict[str, Any], now_ms: int, status: str = "released") -> list[dict[str, Any]]:
    """Release a reservation (its item as read, wire format): it leaves `reserved`, and each counter goes back
    down by its amount, never below zero. `status`: released (by its owner) or expired (by the sweeper)."""
    amount = int(reservation["amount"]["N"])
    items: list[dict[str, Any]] = [{"Update": {
        "TableName": table(),
        "Key": {"pk": reservation["pk"]},
        "UpdateExpression": "SET #status = :to, released_at_ms = :now REMOVE #open",
        "ConditionExpression": "#status = :reserved",
        "ExpressionAttributeNames": {"#status": "status", "#open": "open"},
        "ExpressionAttributeValues": {":to": s(status), ":reserved": s("reserved"), ":now": n(now_ms)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}]
    for key in json.loads(reservation["counters"]["S"]):
        items.append({"Update": {
            "TableName": table(),
            "Key": {"pk": s(key)},
            "UpdateExpression": "SET #used = #used - :x",
            "ConditionExpression": "#used >= :x",
            "ExpressionAttributeNames": {"#used": "used"},
            "ExpressionAttributeValues": {":x": n(amount)},
        }})
    return items


def exhausted(counter: Counter) -> BudgetExhausted:
    b = counter.budget
    return BudgetExhausted(details={"action": b.action, "limit": b.limit, "period": b.period, "entity": b.entity})


def explain_budget(counter_list: list[Counter], reasons: list[Cancellation], offset: int = 0) -> None:
    """Raise 422 BUDGET_EXHAUSTED naming the budget if one of the counters (at `offset` in the transaction)
    is what cancelled it."""
    for i, counter in enumerate(counter_list):
        if offset + i < len(reasons) and reasons[offset + i].code == "ConditionalCheckFailed":
            raise exhausted(counter)


def explain_confirm(reason: Cancellation | None) -> None:
    """Raise 409 RESERVATION_NOT_ACTIVE if the confirm item is what cancelled the transaction."""
    if reason is not None and reason.code == "ConditionalCheckFailed":
        raise ReservationNotActive()


# --- coupons ------------------------------------------------------------------------------------------------
# A payment that uses coupons asks the marketing center to prepare the redemption (it checks every rule and
# answers a plan: the coupons, their campaigns' redeem budgets, the per-device counters); the payment then
# carries `redemption_items(plan, ...)` in its own transaction, whose conditions re-check what could have
# changed since (the coupon still assigned to this customer and unexpired, the budgets, the device's count).

COUPONS_TABLE_ENV = "COUPONS_TABLE"
COUPON_PREFIX, DEVICE_PREFIX = "COUPON#", "DEVICE#"


class CouponNotRedeemable(Conflict):
    code, message = "COUPON_NOT_REDEEMABLE", "A coupon was redeemed, expired or is not the caller's."


class CouponDeviceLimit(BusinessRuleViolation):
    code, message = "COUPON_DEVICE_LIMIT", "This device has redeemed as many of these coupons as allowed."


@dataclass(frozen=True)
class CouponUse:
    code: str
    campaign_id: str
    face_value: int  # fen
    counters: tuple[Counter, ...]  # the campaign's redeem budgets this use counts against
    device_key: str  # DEVICE#<campaign>#<device>
    device_limit: int


@dataclass(frozen=True)
class Redemption:
    """What the marketing center prepared for one payment (JSON between centers: `to_plan`/`from_plan`)."""

    customer_id: str
    device_id: str
    uses: tuple[CouponUse, ...]

    @property
    def discount(self) -> int:
        return sum(u.face_value for u in self.uses)

    def to_plan(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "device_id": self.device_id, "discount": self.discount,
                "coupons": [{"code": u.code, "campaign_id": u.campaign_id, "face_value": u.face_value,
                             "device_key": u.device_key, "device_limit": u.device_limit,
                             "counters": [counter_plan(c) for c in u.counters]} for u in self.uses]}

    @classmethod
    def from_plan(cls, plan: dict[str, Any]) -> Redemption:
        return cls(str(plan["customer_id"]), str(plan["device_id"]), tuple(CouponUse(
            str(c["code"]), str(c["campaign_id"]), int(c["face_value"]),
            tuple(counter_from_plan(k) for k in c["counters"]),
            str(c["device_key"]), int(c["device_limit"])) for c in plan["coupons"]))


def counter_plan(counter: Counter) -> dict[str, Any]:
    b = counter.budget
    return {"key": counter.key, "action": b.action, "limit": b.limit, "period": b.period, "entity": b.entity}


def counter_from_plan(k: dict[str, Any]) -> Counter:
    return Counter(str(k["key"]), Budget(str(k["action"]), int(k["limit"]), str(k["period"]), str(k["entity"])))


def coupons_table() -> str:
    return config.env(COUPONS_TABLE_ENV)


def redemption_items(redemption: Redemption, payment_id: str, now_ms: int) -> list[dict[str, Any]]:
    """Per coupon: the coupon (assigned to this customer, unexpired → redeemed by this payment), its budgets
    raised by its face value, its device's count raised by one."""
    items: list[dict[str, Any]] = []
    for use in redemption.uses:
        items.append({"Update": {
            "TableName": coupons_table(),
            "Key": {"pk": s(COUPON_PREFIX + use.code)},
            "UpdateExpression": "SET #status = :redeemed, payment_id = :p, redeemed_at_ms = :now, "
                                "redeemed_device = :d, used_counters = :k, device_key = :dk",
            "ConditionExpression": "#status = :assigned AND customer_id = :c AND expires_at_ms > :now",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":redeemed": s("redeemed"), ":assigned": s("assigned"), ":p": s(payment_id), ":now": n(now_ms),
                ":d": s(redemption.device_id or "-"), ":c": s(redemption.customer_id),
                ":k": s(json.dumps([c.key for c in use.counters])), ":dk": s(use.device_key)},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }})
        items.extend(consume_items(use.campaign_id, list(use.counters), use.face_value))
        items.append({"Update": {
            "TableName": coupons_table(),
            "Key": {"pk": s(use.device_key)},
            "UpdateExpression": "SET #n = if_not_exists(#n, :zero) + :one",
            "ConditionExpression": "attribute_not_exists(#n) OR #n <= :room",
            "ExpressionAttributeNames": {"#n": "n"},
            "ExpressionAttributeValues": {":zero": n(0), ":one": n(1), ":room": n(use.device_limit - 1)},
        }})
    return items


def explain_redemption(redemption: Redemption, reasons: list[Cancellation], offset: int = 0) -> None:
    """Raise the error of the redemption item that cancelled the transaction (its items start at `offset`)."""
    at = offset
    for use in redemption.uses:
        if at < len(reasons) and reasons[at].code == "ConditionalCheckFailed":
            raise CouponNotRedeemable(details={"code": use.code})
        explain_budget(list(use.counters), reasons, at + 1)
        device = at + 1 + len(use.counters)
        if device < len(reasons) and reasons[device].code == "ConditionalCheckFailed":
            raise CouponDeviceLimit(details={"code": use.code, "limit": use.device_limit})
        at = device + 1


def rollback_items(coupon: dict[str, Any], payment_id: str, now_ms: int) -> list[dict[str, Any]]:
    """Undo a redemption (the coupon's item as read, wire format): the coupon back to assigned, its budgets and
    its device's count back down (never below zero). Only the payment that redeemed it can roll it back."""
    face_value = int(coupon["face_value"]["N"])
    items: list[dict[str, Any]] = [{"Update": {
        "TableName": coupons_table(),
        "Key": {"pk": coupon["pk"]},
        "UpdateExpression": "SET #status = :assigned, rolled_back_at_ms = :now, rolled_back_payment = :p "
                            "REMOVE payment_id, redeemed_at_ms, redeemed_device, used_counters, device_key",
        "ConditionExpression": "#status = :redeemed AND payment_id = :p",
        "ExpressionAttributeNames": {"#status": "status"},
        "ExpressionAttributeValues": {":assigned": s("assigned"), ":redeemed": s("redeemed"), ":p": s(payment_id),
                                      ":now": n(now_ms)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}]
    for key in json.loads(coupon["used_counters"]["S"]):
        items.append({"Update": {
            "TableName": table(), "Key": {"pk": s(key)},
            "UpdateExpression": "SET #used = #used - :x", "ConditionExpression": "#used >= :x",
            "ExpressionAttributeNames": {"#used": "used"}, "ExpressionAttributeValues": {":x": n(face_value)}}})
    items.append({"Update": {
        "TableName": coupons_table(), "Key": {"pk": coupon["device_key"]},
        "UpdateExpression": "SET #n = #n - :one", "ConditionExpression": "#n >= :one",
        "ExpressionAttributeNames": {"#n": "n"}, "ExpressionAttributeValues": {":one": n(1)}}})
    return items


# --- points ---------------------------------------------------------------------------------------------------
# An append-only ledger per customer in the marketing center's PointsTable (pk CUST#<customer>): each entry is
# keyed by (source event, rule) and put only if absent, so a redelivered event earns once. An earn also puts a
# lot (`LOT#<expires at>#<entry>`) with what remains of it: lots are spent oldest-expiring first, become
# available at the next Asia/Shanghai midnight (T+1) and expire `valid_days` later.

POINTS_TABLE_ENV = "POINTS_TABLE"
DAY = timedelta(days=1)


class PointsAlreadyEarned(Conflict):
    code, message = "POINTS_ALREADY_EARNED", "These points were earned already (the same event and rule)."


def points_table() -> str:
    return config.env(POINTS_TABLE_ENV)


def customer_key(customer_id: str) -> str:
    return f"CUST#{customer_id}"


def entry_key(source_event: str, rule: str) -> str:
    return f"ENTRY#{source_event}#{rule}"


def available_from(at: datetime) -> datetime:
    """Points earned at `at` are available from the next Asia/Shanghai midnight (T+1)."""
    start = period_start("day", at)
    assert start is not None
    return start + DAY


def lot_key(expires_at_ms: int, source_event: str, rule: str) -> str:
    return f"LOT#{expires_at_ms:013d}#{source_event}#{rule}"


def points_earn_items(customer_id: str, source_event: str, rule: str, points: int, at: datetime, valid_days: int,
                      campaign_id: str = "") -> list[dict[str, Any]]:
    """The pending entry and its lot, each put once: a money transaction that earns points carries these."""
    now_ms = int(at.timestamp() * 1000)
    available = int(available_from(at).timestamp() * 1000)
    expires = available + valid_days * 86_400_000
    lot = lot_key(expires, source_event, rule)
    pk = s(customer_key(customer_id))
    entry = {"pk": pk, "sk": s(entry_key(source_event, rule)), "kind": s("earn"), "points": n(points),
             "source_event": s(source_event), "rule": s(rule), "campaign_id": s(campaign_id or "-"),
             "lot": s(lot), "available_at_ms": n(available), "expires_at_ms": n(expires), "at_ms": n(now_ms)}
    lot_item = {"pk": pk, "sk": s(lot), "points": n(points), "remaining": n(points), "available_at_ms": n(available),
                "expires_at_ms": n(expires), "source_event": s(source_event), "rule": s(rule)}
    return [{"Put": {"TableName": points_table(), "Item": item, "ConditionExpression": "attribute_not_exists(pk)",
                     "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}} for item in (entry, lot_item)]


def explain_points(reasons: list[Cancellation], offset: int = 0) -> None:
    """Raise 409 POINTS_ALREADY_EARNED if the earn entry (at `offset`) is what cancelled the transaction."""
    if offset < len(reasons) and reasons[offset].code == "ConditionalCheckFailed":
        raise PointsAlreadyEarned()


# --- points a payment earns -------------------------------------------------------------------------------------
# The marketing center judges which running points campaigns a payment earns from (channel, min spend, holdout,
# room in their points budgets) and answers an earn plan; the capture that moves the money carries, per campaign,
# the earn entry and its lot (keyed by (the hold, the campaign): put once) and the campaign's points budgets.


@dataclass(frozen=True)
class PointsEarn:
    campaign_id: str  # also the earn's rule: one entry per (payment, campaign)
    points: int
    valid_days: int
    counters: tuple[Counter, ...]  # the campaign's points budgets this earn counts against

    def to_plan(self) -> dict[str, Any]:
        return {"campaign_id": self.campaign_id, "points": self.points, "valid_days": self.valid_days,
                "counters": [counter_plan(c) for c in self.counters]}

    @classmethod
    def from_plan(cls, plan: dict[str, Any]) -> PointsEarn:
        return cls(str(plan["campaign_id"]), int(plan["points"]), int(plan["valid_days"]),
                   tuple(counter_from_plan(k) for k in plan["counters"]))


def earn_items(earn: PointsEarn, customer_id: str, source_event: str, at: datetime) -> list[dict[str, Any]]:
    """One campaign's earn for the money's transaction: the entry and its lot (put once), then its budgets."""
    return [*points_earn_items(customer_id, source_event, earn.campaign_id, earn.points, at, earn.valid_days,
                               earn.campaign_id),
            *consume_items(earn.campaign_id, list(earn.counters), earn.points)]


def explain_earn(earn: PointsEarn, reasons: list[Cancellation], offset: int = 0) -> None:
    """Raise the error of the earn item (its items start at `offset`) that cancelled the transaction."""
    explain_points(reasons, offset)
    explain_points(reasons, offset + 1)
    explain_budget(list(earn.counters), reasons, offset + 2)
