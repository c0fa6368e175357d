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
