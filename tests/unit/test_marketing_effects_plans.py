"""The marketing plans that travel between centers for a payment's capture (decisions 0043, 0044): they survive
the trip as JSON, and each item of a capture's transaction is explained by the marketing module."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from bank_common import marketing_effects as me
from bank_common.ddb import Cancellation

AT = datetime(2026, 11, 28, 4, 0, tzinfo=UTC)
BUDGET = me.Budget("points", 500, "day", "customer")


@pytest.fixture(autouse=True)
def tables(monkeypatch: pytest.MonkeyPatch) -> None:
    for env in (me.TABLE_ENV, me.COUPONS_TABLE_ENV, me.POINTS_TABLE_ENV):
        monkeypatch.setenv(env, env.lower())


def test_an_earn_plan_survives_json_and_builds_its_items() -> None:
    counters = me.counters("cmp-0123456789abcdef0123", [BUDGET], "points", AT, "c-1")
    earn = me.PointsEarn("cmp-0123456789abcdef0123", 50, 365, tuple(counters))
    again = me.PointsEarn.from_plan(json.loads(json.dumps(earn.to_plan())))
    assert again == earn
    items = me.earn_items(again, "c-1", "Habc", AT)
    assert [next(iter(i)) for i in items] == ["Put", "Put", "Update"]
    entry, lot, budget = (i[next(iter(i))] for i in items)
    assert entry["Item"]["sk"]["S"] == "ENTRY#Habc#cmp-0123456789abcdef0123" and entry["TableName"] == "points_table"
    assert lot["Item"]["remaining"]["N"] == "50"
    assert budget["Key"]["pk"]["S"] == counters[0].key and budget["ExpressionAttributeValues"][":room"]["N"] == "450"


def test_each_failed_item_of_an_earn_names_its_reason() -> None:
    earn = me.PointsEarn("cmp-0123456789abcdef0123", 50, 365,
                         tuple(me.counters("cmp-0123456789abcdef0123", [BUDGET], "points", AT, "c-1")))

    def reason_at(i: int) -> str:
        reasons = [Cancellation("None", None)] * 3
        reasons[i] = Cancellation("ConditionalCheckFailed", None)
        with pytest.raises(Exception) as raised:
            me.explain_earn(earn, reasons)
        return str(getattr(raised.value, "code", ""))

    assert [reason_at(i) for i in range(3)] == ["POINTS_ALREADY_EARNED", "POINTS_ALREADY_EARNED", "BUDGET_EXHAUSTED"]
    me.explain_earn(earn, [Cancellation("TransactionConflict", None)] * 3)  # a lost race explains nothing


def test_a_redemption_plan_keeps_its_counters() -> None:
    counter = me.counters("cmp-0123456789abcdef0123", [me.Budget("redeem", 10_000, "campaign", "campaign")],
                          "redeem", AT, "c-1")
    use = me.CouponUse("ABCDEFGHJKL", "cmp-0123456789abcdef0123", 1_000, tuple(counter),
                       "DEVICE#cmp-0123456789abcdef0123#-", 1)
    redemption = me.Redemption("c-1", "", (use,))
    assert me.Redemption.from_plan(json.loads(json.dumps(redemption.to_plan()))) == redemption
