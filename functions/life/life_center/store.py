"""Data access of the life center: orders (created once, then changed only by conditional state
transitions) and reconciliation reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.update import Action

from life_center.models import Order, Report

OPEN_STATUSES = ("paid", "processing", "failed")  # someone (the worker, the poller) still has to act


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def order_pk(order_no: str) -> str:
    return f"ORDER#{order_no}"


def get_order(order_no: str) -> Order | None:
    try:
        return Order.get(order_pk(order_no), "ORDER", consistent_read=True)
    except Order.DoesNotExist:
        return None


def create_order(order: Order) -> Order | None:
    """Put the order only if its number is new; otherwise the order already there (a retry, or a race)."""
    try:
        order.save(condition=Order.pk.does_not_exist())
        return None
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
    return get_order(order.order_no)


def transition(order_no: str, from_statuses: tuple[str, ...], to_status: str, **changes: Any) -> Order | None:
    """Move an order to `to_status` only if it is in one of `from_statuses` (so two callbacks, or a callback
    and a poll, change it once). The order after the change, or None when it was not in those states."""
    at = now()
    actions: list[Action] = [Order.status.set(to_status), Order.updated_at.set(at)]
    actions.append(Order.open_status.set(to_status) if to_status in OPEN_STATUSES else Order.open_status.remove())
    if to_status == "processing":
        actions.append(Order.processing_since.set(at))
    for name, value in changes.items():
        if value is not None:
            actions.append(getattr(Order, name).set(value))
    item = Order(order_pk(order_no), "ORDER")
    try:
        item.update(actions=actions, condition=Order.status.is_in(*from_statuses))
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return None
        raise
    return item


def keep_effects(order_no: str, redemption: str | None, discount: int, earn: str) -> Order | None:
    """Keep the prepared marketing plans (coupons, points) on a pending order, once: a retry reuses them (the
    capture's request is the same), and a parallel retry that prepared its own finds the first ones kept."""
    item = Order(order_pk(order_no), "ORDER")
    actions: list[Action] = [Order.earn.set(earn)]
    if redemption is not None:
        actions += [Order.redemption.set(redemption), Order.discount.set(discount)]
    try:
        item.update(actions=actions, condition=Order.earn.does_not_exist() & (Order.status == "pending"))
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
    return get_order(order_no)


def drop_earn(order_no: str) -> Order | None:
    """A points budget ran out between the plan and the capture: the payment goes on without those points."""
    Order(order_pk(order_no), "ORDER").update(actions=[Order.earn.set(json.dumps({"earns": []}))])
    return get_order(order_no)


def open_orders(status: str, updated_before: str, limit: int) -> list[str]:
    """Order numbers in an open state whose last change is older than `updated_before` (oldest first)."""
    found = Order.open_orders.query(status, Order.updated_at < updated_before, limit=limit)
    return [str(o.pk).removeprefix("ORDER#") for o in found]


def orders_of_day(biller_id: str, business_date: str) -> list[Order]:
    return list(Order.by_biller_date.query(f"{biller_id}#{business_date}"))


def report_pk(biller_id: str) -> str:
    return f"RECON#{biller_id}"


def put_report(biller_id: str, business_date: str, status: str, report: str) -> None:
    Report(report_pk(biller_id), business_date, status=status, report=report, created_at=now()).save()


def get_report(biller_id: str, business_date: str) -> Report | None:
    try:
        return Report.get(report_pk(biller_id), business_date, consistent_read=True)
    except Report.DoesNotExist:
        return None
