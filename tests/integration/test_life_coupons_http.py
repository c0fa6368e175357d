"""A bill paid with a coupon and earning points over HTTP against the local run (DynamoDB Local, every function
in its own workers; decisions 0043, 0044): the capture's one transaction spans the account center's tables and
the marketing center's coupons, budgets and points; payments racing one coupon use it once."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.api import Api, subject_of
from tests.support.figures import report
from tests.support.life import electric_number, wait_for
from tests.support.marketing import PATH

pytestmark = pytest.mark.integration


def pay(api: Api, token: str, account: str, amount: str, number: str, codes: list[str], key: str) -> Any:
    body = {"biller_id": "sh-electric", "customer_number": number, "account_id": account, "amount": amount}
    return api.call("POST", "/v1/life/payments", {**body, "coupon_codes": codes} if codes else body, token=token,
                    key=key)


def test_a_coupon_and_points_ride_in_the_capture_over_http(api: Api, teller: str, marketer: str,
                                                            campaigns: Any) -> None:
    token, account = api.customer_with_account("139" + str(uuid.uuid4().int)[:8])
    assert api.deposit(teller, account, "500.00").status == 201
    customer = subject_of(token)
    coupons = campaigns(coupon_rules={"per_customer": 2, "per_device": 5, "valid_days": 30,
                                                 "stackable": False})
    campaigns(kind="points", offer={"points": 30, "min_spend": "100.00"}, holdout_percent=0,
              budgets=[{"action": "points", "limit": 1_000_000}])
    codes = [api.call("POST", f"{PATH}/{coupons}/coupons", {"customer_id": customer}, token=marketer,
                      channel="web").body["code"] for _ in range(2)]
    started = time.monotonic()
    paid = pay(api, token, account, "120.00", electric_number("1"), [codes[0]], "bill-http-coupon-1")
    answered = time.monotonic() - started
    assert paid.status == 201 and paid.body["discount"] == "10.00" and paid.body["points"] >= 30, paid.body
    report(f"life (local run): a bill paid with a coupon and earning points answered in {answered * 1000:.0f} ms "
           "(prepare coupons + points, hold, capture carrying them)")
    assert wait_for(api, token, paid.body["order_no"], ("succeeded",))["status"] == "succeeded"
    statement = api.statement(token, account)
    assert (statement[-1]["kind"], statement[-1]["direction"], statement[-1]["amount"]) == \
        ("capture", "debit", "110.00")
    points = api.call("GET", "/v1/marketing/points", token=token).body
    assert points["pending"] >= 30, points
    # Four payments racing the other coupon: one uses it, the others are refused and move nothing.
    number = electric_number("1")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda i: pay(api, token, account, "100.00", number, [codes[1]],
                                              f"bill-http-race-{i}"), range(4)))
    won = [a for a in answers if a.status == 201]
    assert len(won) == 1 and won[0].body["discount"] == "10.00", [(a.status, a.body) for a in answers]
    assert all(a.code in ("COUPON_NOT_REDEEMABLE", "COUPONS_NOT_APPLICABLE") for a in answers if a.status != 201)
    assert api.balance(token, account) == "300.00"  # 500.00 - 110.00 - 90.00
    started = time.monotonic()
    warm = pay(api, token, account, "100.00", electric_number("1"), [], "bill-http-points-warm")
    took = time.monotonic() - started
    assert warm.status == 201 and warm.body["points"] >= 30, warm.body
    report(f"life (local run): a warm bill payment earning points answered in {took * 1000:.0f} ms "
           "(prepare points, hold, capture)")
