"""Points: earned exactly once per (source event, rule) — pending until the next Asia/Shanghai midnight, then
available until their lot expires —, spent oldest-expiring lot first, reversed when the payment that earned
them is refunded. Balances are read from the lots, so time alone moves points from pending to available to
expired."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime
from typing import Any

from bank_common import ddb, marketing_effects
from bank_common.errors import BusinessRuleViolation, Conflict, NotFound
from marketing_center import store
from marketing_center.logic import holdout
from marketing_center.logic.budgets import budgets_of
from marketing_center.logic.campaigns import live_content, now_ms, running, shanghai
from marketing_center.models import PointsEntry, PointsLot
from marketing_center.schemas import (
    EarnPointsIn,
    PointsEntryOut,
    PointsHistoryPage,
    PointsLotOut,
    PointsOut,
    PrepareEarnIn,
    ReversePointsIn,
    SpendPointsIn,
)

ATTEMPTS = 6
# A capture is one TransactWriteItems (at most 100 items): its own ~10, five coupons' 60 at most (1 + 10 budgets
# + 1 device each), and 12 at most per points campaign (entry, lot, 10 budgets): two campaigns fit.
MAX_EARNS_PER_PAYMENT = 2


class NotEnoughPoints(BusinessRuleViolation):
    code, message = "NOT_ENOUGH_POINTS", "The customer does not have that many available points."


class EarnNotFound(NotFound):
    code, message = "POINTS_EARN_NOT_FOUND", "No points were earned for this event and rule."


class PointsBusy(Conflict):
    code, message = "CONCURRENT_UPDATE", "The customer's points changed meanwhile; retry the same request."


def lot_status(lot: PointsLot, at: int) -> str:
    if int(lot.remaining) == 0:
        return "used"
    if int(lot.expires_at_ms) <= at:
        return "expired"
    return "pending" if at < int(lot.available_at_ms) else "available"


def balance(customer_id: str) -> PointsOut:
    at = now_ms()
    lots = store.points_lots(customer_id)
    out = [PointsLotOut(points=int(lot.points), remaining=int(lot.remaining),
                        status=lot_status(lot, at),  # type: ignore[arg-type]
                        available_at=shanghai(int(lot.available_at_ms)), expires_at=shanghai(int(lot.expires_at_ms)))
           for lot in lots]
    return PointsOut(available=sum(lot.remaining for lot in out if lot.status == "available"),
                     pending=sum(lot.remaining for lot in out if lot.status == "pending"), lots=out)


def history(customer_id: str, limit: int, cursor: str | None) -> PointsHistoryPage:
    after = None
    if cursor:
        at, _, sk = cursor.partition("~")
        after = (int(at), sk)
    items, nxt = store.points_history(customer_id, limit, after)
    return PointsHistoryPage(items=[_entry_out(e) for e in items],
                             next_cursor=f"{nxt[0]:013d}~{nxt[1]}" if nxt else None)


def _entry_out(entry: PointsEntry) -> PointsEntryOut:
    return PointsEntryOut(kind=entry.kind, points=int(entry.points), source_event=entry.source_event,
                          rule=entry.rule, campaign_id=entry.campaign_id, at=shanghai(int(entry.at_ms)))


def _entry_result(entry: PointsEntry) -> dict[str, Any]:
    return {"kind": entry.kind, "points": int(entry.points), "source_event": entry.source_event, "rule": entry.rule,
            "unrecovered": int(entry.unrecovered or 0)}


def earn(body: EarnPointsIn, at_ms: int | None = None) -> dict[str, Any]:
    """Earn once: a redelivered event answers what the first delivery earned. With a campaign, its points
    budgets are consumed in the same transaction."""
    at = now_ms() if at_ms is None else at_ms
    moment = datetime.fromtimestamp(at / 1000, UTC)
    items = marketing_effects.points_earn_items(body.customer_id, body.source_event, body.rule, body.points, moment,
                                                body.valid_days, body.campaign_id or "")
    counters: list[marketing_effects.Counter] = []
    if body.campaign_id:
        _, content = running(body.campaign_id, at)
        counters = marketing_effects.counters(body.campaign_id, budgets_of(content), "points", moment,
                                              body.customer_id)
        items += marketing_effects.consume_items(body.campaign_id, counters, body.points)
    try:
        ddb.transact_write(items)
    except ddb.TransactionCancelled as exc:
        existing = store.points_entry(body.customer_id, marketing_effects.entry_key(body.source_event, body.rule))
        if existing is not None:  # the same event again: exactly once
            return {**_entry_result(existing), "replayed": True}
        if exc.conflict:
            raise PointsBusy() from exc
        marketing_effects.explain_budget(counters, exc.reasons, offset=2)
        raise
    return {"kind": "earn", "points": body.points, "source_event": body.source_event, "rule": body.rule,
            "unrecovered": 0, "replayed": False}


def prepare_earn(body: PrepareEarnIn, at_ms: int | None = None) -> dict[str, Any]:
    """The points a payment earns (decision 0044): every running points campaign on the payment's channel whose
    minimum spend it reaches, unless the customer is in its holdout, while its points budgets have room (read
    here as a courtesy; the capture's conditions decide). Campaigns with a segment are left to the campaign's
    own firings: a payment does not read audiences."""
    at = now_ms() if at_ms is None else at_ms
    moment = datetime.fromtimestamp(at / 1000, UTC)
    earns: list[marketing_effects.PointsEarn] = []
    for campaign in store.running_candidates():
        content = live_content(campaign, at) if campaign.kind == "points" else None
        offer = (content or {}).get("offer") or {}
        if (not content or content.get("segment") or body.channel not in content.get("channels", ())
                or body.amount < int(offer.get("min_spend") or 0)
                or holdout.in_holdout(campaign.campaign_id, body.customer_id, int(content.get("holdout_percent", 0)))):
            continue
        earned = int(offer["points"])
        counters = marketing_effects.counters(campaign.campaign_id, budgets_of(content), "points", moment,
                                              body.customer_id)
        used = store.budget_used([c.key for c in counters])
        if any(used.get(c.key, 0) + earned > c.budget.limit for c in counters):
            continue
        earns.append(marketing_effects.PointsEarn(campaign.campaign_id, earned, 365, tuple(counters)))
        if len(earns) == MAX_EARNS_PER_PAYMENT:
            break
    return {"earns": [e.to_plan() for e in earns]}


def spend(body: SpendPointsIn, at_ms: int | None = None) -> dict[str, Any]:
    """Spend from the available lots, the soonest to expire first; once per source event."""
    at = now_ms() if at_ms is None else at_ms
    sk = f"ENTRY#{body.source_event}#spend"
    for attempt in range(ATTEMPTS):
        existing = store.points_entry(body.customer_id, sk)
        if existing is not None:
            return {**_entry_result(existing), "replayed": True}
        plan: dict[str, int] = {}
        wanted = body.points
        for lot in store.points_lots(body.customer_id):  # sorted by expiry: FIFO
            if wanted == 0:
                break
            if lot_status(lot, at) == "available":
                take = min(int(lot.remaining), wanted)
                plan[lot.sk] = take
                wanted -= take
        if wanted:
            raise NotEnoughPoints(details={"wanted": body.points, "available": body.points - wanted})
        entry = PointsEntry(marketing_effects.customer_key(body.customer_id), sk, kind="spend", points=-body.points,
                            source_event=body.source_event, rule="spend", lots=json.dumps(plan), at_ms=at)
        try:
            ddb.transact_write([ddb.put_new(entry), *(store.take_from_lot(body.customer_id, lot_sk, take, at,
                                                                         spendable=True)
                                                      for lot_sk, take in plan.items())])
            return {"kind": "spend", "points": -body.points, "source_event": body.source_event, "rule": "spend",
                    "lots": plan, "unrecovered": 0, "replayed": False}
        except ddb.TransactionCancelled:  # a lot moved (another spend, expiry) or a redelivery won: read again
            time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # noqa: S311 - jitter
    raise PointsBusy()


def reverse(body: ReversePointsIn, at_ms: int | None = None) -> dict[str, Any]:
    """A refund takes back what the earn gave, as far as its lot still holds it (the rest is `unrecovered`)."""
    at = now_ms() if at_ms is None else at_ms
    earned = store.points_entry(body.customer_id, marketing_effects.entry_key(body.source_event, body.rule))
    if earned is None or earned.kind != "earn" or earned.lot is None:
        raise EarnNotFound()
    sk = marketing_effects.entry_key(body.source_event, body.rule) + "#REV"
    for _ in range(ATTEMPTS):
        existing = store.points_entry(body.customer_id, sk)
        if existing is not None:
            return {**_entry_result(existing), "replayed": True}
        lots = {lot.sk: lot for lot in store.points_lots(body.customer_id)}
        lot = lots.get(earned.lot)
        take = min(int(lot.remaining), int(earned.points)) if lot is not None else 0
        entry = PointsEntry(marketing_effects.customer_key(body.customer_id), sk, kind="reversal", points=-take,
                            source_event=body.source_event, rule=body.rule, campaign_id=earned.campaign_id,
                            lots=json.dumps({earned.lot: take}), unrecovered=int(earned.points) - take, at_ms=at)
        items = [ddb.put_new(entry)]
        if take:
            items.append(store.take_from_lot(body.customer_id, earned.lot, take, at, spendable=False))
        try:
            ddb.transact_write(items)
            return {**_entry_result(entry), "replayed": False}
        except ddb.TransactionCancelled:
            continue
    raise PointsBusy()
