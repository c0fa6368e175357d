"""bank_common.marketing_effects as a money operation uses it: the budget's items ride in the money's own
TransactWriteItems. Driven by direct calls on moto with a ledger record standing in for the payment's items
(the account center is rebuilt on another branch; decision 0031 says how it adopts this)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from bank_common import ddb, marketing_effects
from tests.functional.conftest import provision_staff
from tests.support.api import Api
from tests.support.marketing import MARKETER_PASSWORD, MARKETER_USER, reserve_event, running_campaign

BUDGET = marketing_effects.Budget("cashback", 1_000, "campaign", "campaign")


@pytest.fixture
def campaign(api: Api, runtime: Any) -> str:
    provision_staff(runtime, MARKETER_USER, MARKETER_PASSWORD, ["marketing"])
    marketer = api.staff_login(MARKETER_USER, MARKETER_PASSWORD)
    return running_campaign(api, marketer, kind="cashback", budgets=[
        {"action": "cashback", "limit": 1_000, "period": "campaign", "entity": "campaign"}])


def money_item(aws: Any, fail: bool = False) -> dict[str, Any]:
    """A stand-in for the payment's own items: a ledger record put once (a failing condition when `fail`)."""
    return {"Put": {"TableName": aws["LEDGER_TABLE"], "Item": {"pk": {"S": f"TXN#test#{uuid.uuid4().hex}"},
                                                               "sk": {"S": "REC"}},
                    "ConditionExpression": "attribute_exists(pk)" if fail else "attribute_not_exists(pk)"}}


def budget_used(aws: Any, campaign_id: str) -> int:
    item = boto3.client("dynamodb").get_item(
        TableName=aws["BUDGETS_TABLE"], ConsistentRead=True,
        Key={"pk": {"S": f"BUDGET#{campaign_id}#cashback#campaign#-#campaign#ALL"}}).get("Item")
    return int(item["used"]["N"]) if item else 0


def reservation_status(runtime: Any, reservation_id: str) -> str:
    reply = runtime.invoke("MarketingInternalFunction", {"operation": "confirm_budget",
                                                          "payload": {"reservation_id": reservation_id}})
    return str(reply["result"]["status"]) if reply["ok"] else str(reply["error"]["code"])


def test_money_refused_consumes_no_budget_and_budget_refused_moves_no_money(campaign: str, aws: Any) -> None:
    counters = marketing_effects.counters(campaign, [BUDGET], "cashback", datetime.now(UTC), "c-1")
    with pytest.raises(ddb.TransactionCancelled):
        ddb.transact_write([money_item(aws, fail=True), *marketing_effects.consume_items(campaign, counters, 600)])
    assert budget_used(aws, campaign) == 0
    ddb.transact_write([money_item(aws), *marketing_effects.consume_items(campaign, counters, 600)])
    assert budget_used(aws, campaign) == 600
    ledger_before = len(boto3.client("dynamodb").scan(TableName=aws["LEDGER_TABLE"])["Items"])
    with pytest.raises(marketing_effects.BudgetExhausted):  # 6.00 more does not fit in the 4.00 left
        try:
            ddb.transact_write([money_item(aws), *marketing_effects.consume_items(campaign, counters, 600)])
        except ddb.TransactionCancelled as exc:
            marketing_effects.explain_budget(counters, exc.reasons, offset=1)
    assert len(boto3.client("dynamodb").scan(TableName=aws["LEDGER_TABLE"])["Items"]) == ledger_before
    assert budget_used(aws, campaign) == 600


def test_a_reservation_is_confirmed_by_the_money_that_uses_it_once(campaign: str, aws: Any, runtime: Any) -> None:
    reserved = runtime.invoke("MarketingInternalFunction", reserve_event(campaign, 700, action="cashback"))
    reservation_id = reserved["result"]["reservation_id"]
    now = marketing_effects_now()
    # The payment fails for its own reasons: the reservation is still there to use.
    with pytest.raises(ddb.TransactionCancelled):
        ddb.transact_write([money_item(aws, fail=True), marketing_effects.confirm_item(reservation_id, now)])
    # 8 payments race to use it, each built before any committed: one wins, the others are refused whole.
    prepared = [[money_item(aws), marketing_effects.confirm_item(reservation_id, now)] for _ in range(8)]
    outcomes = []
    for items in prepared:
        try:
            ddb.transact_write(items)
            outcomes.append("paid")
        except ddb.TransactionCancelled as exc:
            with pytest.raises(marketing_effects.ReservationNotActive):
                marketing_effects.explain_confirm(exc.reasons[-1])
            outcomes.append("refused")
    assert outcomes.count("paid") == 1 and budget_used(aws, campaign) == 700
    assert reservation_status(runtime, reservation_id) == "confirmed"
    # An expired reservation cannot be confirmed by money.
    other = runtime.invoke("MarketingInternalFunction", reserve_event(campaign, 300, action="cashback"))
    late = now + (marketing_effects.RESERVATION_TTL_SECONDS + 1) * 1000
    with pytest.raises(ddb.TransactionCancelled):
        ddb.transact_write([money_item(aws), marketing_effects.confirm_item(other["result"]["reservation_id"], late)])


def test_eight_payments_racing_for_the_last_of_a_budget_one_wins(campaign: str, aws: Any) -> None:
    counters = marketing_effects.counters(campaign, [BUDGET], "cashback", datetime.now(UTC), "c-1")
    prepared = [[money_item(aws), *marketing_effects.consume_items(campaign, counters, 1_000)] for _ in range(8)]
    won = 0
    for items in prepared:
        try:
            ddb.transact_write(items)
            won += 1
        except ddb.TransactionCancelled:
            pass
    assert won == 1 and budget_used(aws, campaign) == 1_000


def marketing_effects_now() -> int:
    from marketing_center.logic import budgets

    return budgets.now_ms()


def test_a_coupon_redeems_with_its_money_once_among_eight_payments(api: Api, runtime: Any, aws: Any,
                                                                   new_mobile: Any, campaign: str) -> None:
    """The payment asks the marketing center to prepare the redemption, then carries its items: money refused →
    the coupon stays unused; 8 payments racing with one coupon (all prepared before any committed) → one wins,
    the others are refused whole with COUPON_NOT_REDEEMABLE; the budget counts one face value."""
    from tests.support.marketing import PATH

    marketer = api.staff_login(MARKETER_USER, MARKETER_PASSWORD)
    cid = running_campaign(api, marketer, budgets=[{"action": "redeem", "limit": 100_000}])
    mobile = new_mobile()
    customer_id = api.register(mobile)
    code = api.call("POST", f"{PATH}/{cid}/coupons", {"customer_id": customer_id}, token=marketer,
                    channel="web").body["code"]
    pay = {"customer_id": customer_id, "device_id": "dev-9", "channel": "app", "codes": [code], "amount": 15_000}

    def prepared() -> marketing_effects.Redemption:
        reply = runtime.invoke("MarketingInternalFunction", {"operation": "prepare_redemption", "payload": pay})
        assert reply["ok"], reply
        return marketing_effects.Redemption.from_plan(reply["result"])

    now = marketing_effects_now()
    plan = prepared()
    assert plan.discount == 1_000 and marketing_effects.Redemption.from_plan(plan.to_plan()) == plan
    with pytest.raises(ddb.TransactionCancelled):
        ddb.transact_write([money_item(aws, fail=True), *marketing_effects.redemption_items(plan, "pay-1", now)])
    assert prepared() == plan  # still redeemable: nothing was used

    racing = [[money_item(aws), *marketing_effects.redemption_items(prepared(), f"pay-race-{i}", now)]
              for i in range(8)]
    outcomes = []
    for items in racing:
        try:
            ddb.transact_write(items)
            outcomes.append("paid")
        except ddb.TransactionCancelled as exc:
            with pytest.raises(marketing_effects.CouponNotRedeemable):
                marketing_effects.explain_redemption(plan, exc.reasons, offset=1)
            outcomes.append("refused")
    assert outcomes.count("paid") == 1
    used = boto3.client("dynamodb").get_item(TableName=aws["BUDGETS_TABLE"], ConsistentRead=True, Key={
        "pk": {"S": f"BUDGET#{cid}#redeem#campaign#-#campaign#ALL"}})["Item"]["used"]["N"]
    assert used == "1000"
