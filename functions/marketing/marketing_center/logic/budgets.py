"""Budget reservations for other centers: reserve (15 minutes) → confirm → or release; the sweeper releases
what nobody confirmed. The items come from bank_common.marketing_effects, which a money transaction uses to
confirm (or consume) a budget atomically with the money."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bank_common import ddb, marketing_effects, obs
from bank_common.errors import Conflict
from bank_common.marketing_effects import Budget
from marketing_center import store
from marketing_center.logic.campaigns import CampaignNotRunning, now_ms, running
from marketing_center.schemas import ReservationIn, ReserveBudgetIn

ATTEMPTS = 12  # lost races (TransactionConflict) on a hot counter are retried with jittered backoff


class ReservationIdReused(Conflict):
    code, message = "RESERVATION_ID_REUSED", "This reservation id was used for another reservation."


class ReservationNotFound(Conflict):
    status, code, message = 404, "RESERVATION_NOT_FOUND", "No such budget reservation."


class ReservationConfirmed(Conflict):
    code, message = "RESERVATION_CONFIRMED", "The reservation was confirmed; its budget is spent."


class ConcurrentBudgetUse(Conflict):
    code, message = "CONCURRENT_UPDATE", "The budget is busy; retry the same request."


def _retrying[T](attempt: Callable[[], T]) -> T:
    for tries in range(ATTEMPTS):
        try:
            return attempt()
        except ddb.TransactionCancelled as exc:
            if not exc.conflict or tries == ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0, min(0.01 * 2**tries, 0.4)))  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable")


def budgets_of(content: dict[str, Any]) -> list[Budget]:
    return [Budget(b["action"], int(b["limit"]), b["period"], b["entity"]) for b in content.get("budgets") or []]


def reservation_out(item: dict[str, Any]) -> dict[str, Any]:
    return {"reservation_id": item["reservation_id"]["S"], "campaign_id": item["campaign_id"]["S"],
            "action": item["action"]["S"], "amount": int(item["amount"]["N"]), "status": item["status"]["S"],
            "expires_at_ms": int(item["expires_at_ms"]["N"])}


def reserve(body: ReserveBudgetIn, at_ms: int | None = None) -> dict[str, Any]:
    at = now_ms() if at_ms is None else at_ms
    campaign, content = running(body.campaign_id, at)
    counters = marketing_effects.counters(body.campaign_id, budgets_of(content), body.action,
                                          datetime.fromtimestamp(at / 1000, UTC), body.customer_id, body.device_id)
    too_big = marketing_effects.fits(counters, body.amount)
    if too_big is not None:
        raise marketing_effects.exhausted(too_big)
    items = marketing_effects.reserve_items(body.reservation_id, body.campaign_id, body.action, body.amount,
                                            counters, body.customer_id, body.device_id, at)
    items.append(store.campaign_live_check(body.campaign_id, int(campaign.live_version)))
    try:
        _retrying(lambda: ddb.transact_write(items))
    except ddb.TransactionCancelled as exc:
        reasons = exc.reasons
        if exc.conflict:
            raise ConcurrentBudgetUse() from exc
        put_at = len(counters)
        if put_at < len(reasons) and reasons[put_at].code == "ConditionalCheckFailed":
            return _replay(body)
        if len(reasons) > put_at + 1 and reasons[put_at + 1].code == "ConditionalCheckFailed":
            raise CampaignNotRunning(details={"state": "changed"}) from exc
        marketing_effects.explain_budget(counters, reasons)
        raise
    obs.emit_metric("BudgetReserved", body.amount, "Count", action=body.action)
    found = store.reservation(body.reservation_id)
    assert found is not None
    return reservation_out(found)


def _replay(body: ReserveBudgetIn) -> dict[str, Any]:
    """The same reservation id again: the first answer if it asked for the same thing."""
    found = store.reservation(body.reservation_id)
    if found is None:
        raise ConcurrentBudgetUse()
    same = (found["campaign_id"]["S"], found["action"]["S"], int(found["amount"]["N"]), found["customer_id"]["S"]) \
        == (body.campaign_id, body.action, body.amount, body.customer_id)
    if not same:
        raise ReservationIdReused()
    return reservation_out(found)


def confirm(body: ReservationIn, at_ms: int | None = None) -> dict[str, Any]:
    """Confirm on its own (a flow with no money of its own, e.g. points); money flows carry the confirm item
    in their transaction instead."""
    at = now_ms() if at_ms is None else at_ms
    try:
        ddb.transact_write([marketing_effects.confirm_item(body.reservation_id, at)])
    except ddb.TransactionCancelled as exc:
        found = store.reservation(body.reservation_id)
        if found is None:
            raise ReservationNotFound() from exc
        if found["status"]["S"] == "confirmed":  # a retry of a confirm that went through
            return reservation_out(found)
        marketing_effects.explain_confirm(exc.reasons[0])
        raise
    found = store.reservation(body.reservation_id)
    assert found is not None
    return reservation_out(found)


def release(body: ReservationIn, at_ms: int | None = None, status: str = "released") -> dict[str, Any]:
    """Give a reservation's budget back (idempotent: an already released or expired one is left as it is)."""
    at = now_ms() if at_ms is None else at_ms
    found = store.reservation(body.reservation_id)
    if found is None:
        raise ReservationNotFound()
    if found["status"]["S"] == "confirmed":
        raise ReservationConfirmed()
    if found["status"]["S"] == "reserved":
        items = marketing_effects.release_items(found, at, status)
        try:
            _retrying(lambda: ddb.transact_write(items))
        except ddb.TransactionCancelled as exc:
            if exc.conflict:
                raise ConcurrentBudgetUse() from exc
            again = store.reservation(body.reservation_id)  # confirmed or released meanwhile
            if again is not None and again["status"]["S"] == "confirmed":
                raise ReservationConfirmed() from exc
            if again is None or again["status"]["S"] == "reserved":
                raise
            found = again
        else:
            found = store.reservation(body.reservation_id) or found
    return reservation_out(found)


def sweep(at_ms: int | None = None, remaining_ms: Callable[[], int] = lambda: 60_000) -> dict[str, Any]:
    """Release every reservation whose 15 minutes ran out (the scheduled sweeper)."""
    at = now_ms() if at_ms is None else at_ms
    released = skipped = 0
    while remaining_ms() > 5_000:
        due = store.expired_reservations(at, 100)
        if not due:
            break
        for reservation_id in due:
            try:
                release(ReservationIn(reservation_id=reservation_id), at, status="expired")
                released += 1
            except (ReservationConfirmed, ReservationNotFound, ConcurrentBudgetUse):
                skipped += 1  # confirmed at the last moment, or busy: the next run sees it again if still open
        if skipped and len(due) == skipped:
            break
    obs.log().info("budget reservations swept", extra={"released": released, "skipped": skipped})
    return {"released": released, "skipped": skipped}
