from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bank_common import limits
from bank_common.ddb import Cancellation
from bank_common.errors import LimitExceeded


@pytest.fixture(autouse=True)
def usage_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMIT_USAGE_TABLE", "unit-limit-usage")


def ctx(amount: int, account_type: str = "II", at: datetime | None = None) -> limits.LimitContext:
    return limits.LimitContext(customer_id="c1", account_id="a1", account_type=account_type, channel="app",
                               txn_type="transfer", auth_level="L1", amount=amount,
                               at=at or datetime(2026, 11, 26, 3, 0, tzinfo=UTC))


def test_periods_follow_shanghai_calendar() -> None:
    late_utc = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January in Shanghai
    assert limits.period_key("daily", late_utc) == "D20270101"
    assert limits.period_key("monthly", late_utc) == "M202701"
    assert limits.period_key("yearly", late_utc) == "Y2027"
    assert limits.period_end("monthly", late_utc).isoformat() == "2027-02-01T00:00:00+08:00"


def test_plan_builds_conditional_usage_updates() -> None:
    plan = limits.plan(ctx(300_00))
    # customer daily + monthly, Type II account daily + yearly
    assert len(plan.items) == 4
    daily = plan.items[0]["Update"]
    assert daily["ExpressionAttributeValues"][":amt_max"] == {"N": str(200_000_00 - 300_00)}
    assert daily["ExpressionAttributeValues"][":cnt_max"] == {"N": "99"}
    assert "ConditionExpression" in daily and daily["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    assert plan.items[2]["Update"]["Key"]["pk"]["S"] == "ACCT#a1#OUT#D20261126"


def test_single_and_period_caps_refused_before_writing() -> None:
    with pytest.raises(LimitExceeded):
        limits.plan(ctx(50_000_01, account_type="I"))  # single cap
    with pytest.raises(LimitExceeded):
        limits.plan(ctx(10_000_01))  # Type II daily cap can never fit
    with pytest.raises(LimitExceeded):
        limits.plan(ctx(2_000_01, account_type="III"))


def test_undefined_operation_is_refused_with_its_own_error() -> None:
    with pytest.raises(limits.LimitNotDefined) as info:
        limits.plan(limits.LimitContext("c", "a", "II", "app", "loan_drawdown", "L1", 1, datetime.now(UTC)))
    assert info.value.code == "LIMIT_NOT_DEFINED" and info.value.status == 422
    assert not isinstance(info.value, LimitExceeded)


def usage(amount: int, count: int) -> dict:
    return {"amount": {"N": str(amount)}, "txn_count": {"N": str(count)}}


def test_period_caps_are_checked_against_the_usage_read() -> None:
    c = ctx(1_000_00)
    keys = limits.read_keys(c)
    assert keys == ["CUST#c1#CH#app#TT#transfer#AL#L1#D20261126", "CUST#c1#CH#app#TT#transfer#AL#L1#M202611",
                    "ACCT#a1#OUT#D20261126", "ACCT#a1#OUT#Y2026"]
    limits.plan(c, {keys[2]: usage(9_000_00, 3)})  # 9000 + 1000 = the Type II daily cap exactly
    with pytest.raises(LimitExceeded, match="account daily"):
        limits.plan(c, {keys[2]: usage(9_000_01, 3)})
    with pytest.raises(LimitExceeded, match="customer daily"):
        limits.plan(ctx(1_00), {keys[0]: usage(0, 100)})  # the 101st transfer of the day
    limits.plan(ctx(1_00), {keys[0]: usage(0, 99)})


def test_cancellation_maps_to_the_cap_that_failed() -> None:
    plan = limits.plan(ctx(1_00))
    with pytest.raises(LimitExceeded) as info:
        plan.exceeded([None, Cancellation("ConditionalCheckFailed", {}), None, None])
    assert "monthly" in info.value.message
    plan.exceeded([None, Cancellation("TransactionConflict", None), None, None])  # a lost race is no refusal
