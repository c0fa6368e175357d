"""Points on moto: earned exactly once per (source event, rule) however often the event is delivered, pending
until the next Asia/Shanghai midnight, spent oldest-expiring lot first, expired by the clock, reversed on a
refund; a customer sees only their own balance, lots and history; a points campaign's budget holds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bank_common import config, ddb, marketing_effects
from tests.functional.conftest import provision_staff
from tests.support.api import Api
from tests.support.marketing import MARKETER_PASSWORD, MARKETER_USER, running_campaign

DAY = 86_400_000


def internal(runtime: Any, operation: str, **payload: Any) -> dict[str, Any]:
    reply: dict[str, Any] = runtime.invoke("MarketingInternalFunction", {"operation": operation, "payload": payload})
    return reply


@pytest.fixture
def customer(api: Api, new_mobile: Any) -> tuple[str, str]:
    mobile = new_mobile()
    customer_id = api.register(mobile)
    return customer_id, api.login(mobile)


def clock(monkeypatch: pytest.MonkeyPatch, at_ms: int) -> None:
    from marketing_center.logic import points

    monkeypatch.setattr(points, "now_ms", lambda: at_ms)


def shanghai_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=config.SHANGHAI).timestamp() * 1000)


def test_points_earn_once_wait_for_t_plus_1_spend_fifo_and_expire(api: Api, runtime: Any, customer: tuple[str, str],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    customer_id, token = customer
    earn = {"customer_id": customer_id, "rule": "pay-1-per-yuan"}
    clock(monkeypatch, shanghai_ms("2026-12-01T23:59:59"))  # a second before midnight in Shanghai
    first = internal(runtime, "earn_points", source_event="pay-0001", points=100, valid_days=30, **earn)
    assert first["ok"] and first["result"]["replayed"] is False, first
    for _ in range(3):  # the same event delivered again: earned once
        again = internal(runtime, "earn_points", source_event="pay-0001", points=100, valid_days=30, **earn)
        assert again["result"]["replayed"] is True and again["result"]["points"] == 100
    clock(monkeypatch, shanghai_ms("2026-12-02T10:00:00"))
    internal(runtime, "earn_points", source_event="pay-0002", points=50, valid_days=60, **earn)
    # Dec 2, 10:00: the first lot is available since midnight, the second waits for Dec 3.
    mine = api.call("GET", "/v1/marketing/points", token=token).body
    assert (mine["available"], mine["pending"]) == (100, 50)
    assert [(lot["status"], lot["available_at"], lot["expires_at"]) for lot in mine["lots"]] == [
        ("available", "2026-12-02T00:00:00+08:00", "2027-01-01T00:00:00+08:00"),
        ("pending", "2026-12-03T00:00:00+08:00", "2027-02-01T00:00:00+08:00")]
    assert internal(runtime, "spend_points", customer_id=customer_id, source_event="order-1",
                    points=120)["error"]["code"] == "NOT_ENOUGH_POINTS"
    # Dec 3: both available; 120 spent takes the soonest-expiring lot first.
    clock(monkeypatch, shanghai_ms("2026-12-03T00:00:00"))
    spent = internal(runtime, "spend_points", customer_id=customer_id, source_event="order-1", points=120)
    assert spent["ok"] and list(spent["result"]["lots"].values()) == [100, 20], spent
    replay = internal(runtime, "spend_points", customer_id=customer_id, source_event="order-1", points=120)
    assert replay["result"]["replayed"] is True
    assert api.call("GET", "/v1/marketing/points", token=token).body["available"] == 30
    # Feb 1 2027 (Shanghai): the second lot expired with 30 left.
    clock(monkeypatch, shanghai_ms("2027-02-01T00:00:00"))
    later = api.call("GET", "/v1/marketing/points", token=token).body
    assert (later["available"], [lot["status"] for lot in later["lots"]]) == (0, ["used", "expired"])
    history = api.call("GET", "/v1/marketing/points/history", token=token).body["items"]
    assert [(e["kind"], e["points"]) for e in history] == [("spend", -120), ("earn", 50), ("earn", 100)]
    page = api.call("GET", "/v1/marketing/points/history?limit=2", token=token).body
    rest = api.call("GET", f"/v1/marketing/points/history?limit=2&cursor={page['next_cursor']}", token=token).body
    assert [e["points"] for e in page["items"] + rest["items"]] == [-120, 50, 100]


def test_a_refund_reverses_what_its_lot_still_holds(api: Api, runtime: Any, customer: tuple[str, str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    customer_id, token = customer
    clock(monkeypatch, shanghai_ms("2026-12-01T12:00:00"))
    for event, points in (("pay-a", 100), ("pay-b", 100)):
        internal(runtime, "earn_points", customer_id=customer_id, source_event=event, rule="r1", points=points)
    clock(monkeypatch, shanghai_ms("2026-12-05T12:00:00"))
    internal(runtime, "spend_points", customer_id=customer_id, source_event="order-9", points=130)  # a: 100, b: 30
    a = internal(runtime, "reverse_points", customer_id=customer_id, source_event="pay-a", rule="r1")
    b = internal(runtime, "reverse_points", customer_id=customer_id, source_event="pay-b", rule="r1")
    assert (a["result"]["points"], a["result"]["unrecovered"]) == (0, 100)
    assert (b["result"]["points"], b["result"]["unrecovered"]) == (-70, 30)
    assert internal(runtime, "reverse_points", customer_id=customer_id, source_event="pay-b",
                    rule="r1")["result"]["replayed"] is True
    assert api.call("GET", "/v1/marketing/points", token=token).body["available"] == 0
    missing = internal(runtime, "reverse_points", customer_id=customer_id, source_event="pay-z", rule="r1")
    assert missing["error"]["code"] == "POINTS_EARN_NOT_FOUND"


def test_a_customer_sees_only_their_own_points(api: Api, runtime: Any, customer: tuple[str, str],
                                               new_mobile: Any, teller: str) -> None:
    customer_id, _ = customer
    internal(runtime, "earn_points", customer_id=customer_id, source_event="pay-x", rule="r", points=10)
    other = new_mobile()
    api.register(other)
    stranger = api.login(other)
    assert api.call("GET", "/v1/marketing/points", token=stranger).body == {"available": 0, "pending": 0, "lots": []}
    assert api.call("GET", "/v1/marketing/points/history", token=stranger).body["items"] == []
    assert api.call("GET", "/v1/marketing/points", token=teller, channel="web").status == 403
    assert api.call("GET", "/v1/marketing/points/history?limit=0", token=stranger).status == 400
    assert api.call("GET", "/v1/marketing/points/history?cursor=nope", token=stranger).status == 400
    for bad in ({"points": 0}, {"points": -5}, {"source_event": ""}, {"rule": "a#b"}, {"extra": 1}):
        payload = {"customer_id": customer_id, "source_event": "pay-y", "rule": "r", "points": 10, **bad}
        assert internal(runtime, "earn_points", **payload)["error"]["code"] == "VALIDATION_FAILED", bad


def test_a_points_campaign_budget_holds_and_points_ride_in_the_money(api: Api, runtime: Any, aws: Any,
                                                                     customer: tuple[str, str]) -> None:
    customer_id, _ = customer
    provision_staff(runtime, MARKETER_USER, MARKETER_PASSWORD, ["marketing"])
    marketer = api.staff_login(MARKETER_USER, MARKETER_PASSWORD)
    cid = running_campaign(api, marketer, kind="points", offer={"points": 100},
                           budgets=[{"action": "points", "limit": 250}])
    earn = {"customer_id": customer_id, "rule": "welcome", "campaign_id": cid}
    assert internal(runtime, "earn_points", source_event="e1", points=100, **earn)["ok"]
    assert internal(runtime, "earn_points", source_event="e2", points=100, **earn)["ok"]
    over = internal(runtime, "earn_points", source_event="e3", points=100, **earn)
    assert over["error"]["code"] == "BUDGET_EXHAUSTED"
    assert internal(runtime, "earn_points", source_event="e1", points=100, **earn)["result"]["replayed"] is True
    # The seam: points earned by a payment are put in the payment's own transaction; money refused → none.
    items = marketing_effects.points_earn_items(customer_id, "pay-777", "cashback", 5, datetime.now(UTC), 365)
    ledger = {"Put": {"TableName": aws["LEDGER_TABLE"], "Item": {"pk": {"S": "TXN#seam#1"}, "sk": {"S": "REC"}},
                      "ConditionExpression": "attribute_exists(pk)"}}
    with pytest.raises(ddb.TransactionCancelled):
        ddb.transact_write([ledger, *items])
    ledger["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
    ddb.transact_write([ledger, *items])
    ledger["Put"]["Item"]["pk"]["S"] = "TXN#seam#2"
    with pytest.raises(marketing_effects.PointsAlreadyEarned):  # the same payment's points again: refused whole
        try:
            ddb.transact_write([ledger, *items])
        except ddb.TransactionCancelled as exc:
            marketing_effects.explain_points(exc.reasons, offset=1)
    history = [e for e in (api.call("GET", "/v1/marketing/points/history", token=customer[1]).body["items"])]
    assert [(e["source_event"], e["points"]) for e in history][0] == ("pay-777", 5)
