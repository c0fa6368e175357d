"""Points on a bill payment (moto, decision 0044): the marketing center judges which running points campaigns a
payment earns from, the account center's capture enters them (once per hold and campaign) with the money; a
redelivered capture or a retried payment earns nothing more; a points budget spent meanwhile lets the payment go
on without them; a refund reverses them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.functional.conftest import provision_staff
from tests.support import pumps
from tests.support.api import Api, subject_of
from tests.support.life import ELECTRIC, electric_number, order
from tests.support.marketing import MARKETER_PASSWORD, MARKETER_USER, running_campaign


@pytest.fixture
def marketer(api: Api, runtime: Any) -> str:
    provision_staff(runtime, MARKETER_USER, MARKETER_PASSWORD, ["marketing"])
    return api.staff_login(MARKETER_USER, MARKETER_PASSWORD)


def points_campaign(api: Api, marketer: str, limit: int = 10_000) -> str:
    """50 points for a payment of 100.00 or more on the app or the WeChat mini program."""
    return running_campaign(api, marketer, kind="points", offer={"points": 50, "min_spend": "100.00"},
                            holdout_percent=0, budgets=[{"action": "points", "limit": limit}])


@pytest.fixture
def payer(api: Api, teller: str, new_mobile: Any) -> dict[str, Any]:
    token, account = api.customer_with_account(new_mobile())
    assert api.deposit(teller, account, "1000.00").status == 201
    return {"token": token, "account": account, "customer": subject_of(token)}


def pay(api: Api, payer: dict[str, Any], amount: str, key: str, number: str) -> Any:
    return api.call("POST", "/v1/life/payments", {"biller_id": ELECTRIC, "customer_number": number,
                                                  "account_id": payer["account"], "amount": amount},
                    token=payer["token"], key=key)


def entries(customer_id: str) -> list[dict[str, Any]]:
    return [i for i in pumps.table("POINTS_TABLE")
            if i["pk"]["S"] == f"CUST#{customer_id}" and i["sk"]["S"].startswith("ENTRY#")]


def my_points(api: Api, token: str) -> tuple[int, int]:
    r = api.call("GET", "/v1/marketing/points", token=token)
    assert r.status == 200, r.body
    return int(r.body["available"]), int(r.body["pending"])


def hold_of(order_no: str) -> str:
    return next(i for i in pumps.table("LIFE_TABLE") if i.get("order_no", {}).get("S") == order_no)["hold_id"]["S"]


def test_a_payment_earns_its_points_once_with_the_money(api: Api, runtime: Any, aws: Any, marketer: str,
                                                        payer: dict[str, Any]) -> None:
    cid = points_campaign(api, marketer)
    number = electric_number("1")
    r = pay(api, payer, "120.00", "bill-points-0001", number)
    assert r.status == 201 and r.body["points"] == 50, r.body
    hold_id = hold_of(r.body["order_no"])
    [entry] = entries(payer["customer"])
    assert entry["sk"]["S"] == f"ENTRY#{hold_id}#{cid}" and entry["points"]["N"] == "50"
    assert my_points(api, payer["token"]) == (0, 50)  # pending until the next Asia/Shanghai midnight
    # The same payment again (its Idempotency-Key): no second earn, no second debit.
    again = pay(api, payer, "120.00", "bill-points-0001", number)
    assert again.status == 201 and again.body["points"] == 50
    # The capture redelivered to the account center (the same request): replayed, nothing entered twice.
    life = next(i for i in pumps.table("LIFE_TABLE") if i.get("order_no", {}).get("S") == r.body["order_no"])
    replayed = runtime.invoke("AccountInternalFunction", {"operation": "capture", "payload": {
        "hold_id": hold_id, "account_id": payer["account"], "destination": next(
            e for e in pumps.table("HOLDS_TABLE") if e["hold_id"]["S"] == hold_id)["destination"]["S"],
        "memo": f"bill {ELECTRIC} {r.body['order_no']}", "earn": json.loads(life["earn"]["S"])}})
    assert replayed["ok"], replayed
    assert len(entries(payer["customer"])) == 1 and my_points(api, payer["token"]) == (0, 50)
    assert api.balance(payer["token"], payer["account"]) == "880.00"
    # Below the campaign's minimum spend: no points.
    small = pay(api, payer, "30.00", "bill-points-0002", electric_number("1"))
    assert small.status == 201 and small.body["points"] is None
    assert len(entries(payer["customer"])) == 1


def test_a_points_budget_spent_meanwhile_does_not_refuse_the_payment(
        api: Api, runtime: Any, aws: Any, marketer: str, payer: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    points_campaign(api, marketer, limit=50)
    first = pay(api, payer, "120.00", "bill-budget-0001", electric_number("1"))
    assert first.status == 201 and first.body["points"] == 50
    # The plan is judged on a read that does not see the full budget (as if another payment filled it since).
    from marketing_center import store

    monkeypatch.setattr(store, "budget_used", lambda keys: {})
    second = pay(api, payer, "120.00", "bill-budget-0002", electric_number("1"))
    assert second.status == 201 and second.body["status"] == "paid" and second.body["points"] is None, second.body
    assert api.balance(payer["token"], payer["account"]) == "760.00"
    assert len(entries(payer["customer"])) == 1 and my_points(api, payer["token"]) == (0, 50)


def test_a_refund_reverses_the_points(api: Api, runtime: Any, aws: Any, marketer: str, payer: dict[str, Any]) -> None:
    cid = points_campaign(api, marketer)
    r = pay(api, payer, "200.00", "bill-points-refund", electric_number("9"))  # the biller refuses it
    assert r.status == 201 and r.body["points"] == 50
    pumps.fold(runtime)
    pumps.pump(runtime, aws.queue_urls["BillerQueue"], "BillerDispatchFunction")
    done = order(api, payer["token"], r.body["order_no"])
    assert done["status"] == "refunded" and done["points"] is None
    hold_id = hold_of(r.body["order_no"])
    kinds = {e["sk"]["S"]: e["kind"]["S"] for e in entries(payer["customer"])}
    assert kinds == {f"ENTRY#{hold_id}#{cid}": "earn", f"ENTRY#{hold_id}#{cid}#REV": "reversal"}
    assert my_points(api, payer["token"]) == (0, 0)
    pumps.fold(runtime)
    assert api.balance(payer["token"], payer["account"]) == "1000.00"


def test_at_most_two_campaigns_earn_on_one_payment(api: Api, runtime: Any, aws: Any, marketer: str,
                                                   payer: dict[str, Any]) -> None:
    for _ in range(3):
        points_campaign(api, marketer)
    r = pay(api, payer, "120.00", "bill-points-many", electric_number("1"))
    assert r.status == 201 and r.body["points"] == 100, r.body
    assert len(entries(payer["customer"])) == 2
