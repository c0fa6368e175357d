"""The layer's limit arithmetic: definitions read from the contract center's items, usage keys per
Asia/Shanghai period, conditional usage updates, caps reached exactly, give-backs; with hypothesis over
amounts, usage and instants (midnight and month ends in Shanghai)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bank_common import config, limits
from bank_common.ddb import Cancellation
from bank_common.errors import LimitExceeded

AT = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai


@pytest.fixture(autouse=True)
def tables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIMIT_USAGE_TABLE", "unit-limit-usage")


def item(**values: int) -> dict:
    return {name: {"N": str(value)} for name, value in values.items()}


BANK = item(single_amount=50_000_00, daily_amount=200_000_00, daily_count=100, monthly_amount=1_000_000_00)
DEFS = limits.Definitions({limits.bank_key("transfer", "app", "L1"): BANK,
                           limits.account_type_key("II"): item(out_daily_amount=10_000_00, out_yearly_amount=200_000_00,
                                                               in_daily_amount=10_000_00, in_yearly_amount=200_000_00),
                           limits.account_type_key("III"): item(out_daily_amount=2_000_00, out_yearly_amount=50_000_00,
                                                                max_balance=2_000_00)})


def ctx(amount: int, at: datetime = AT, txn_type: str = "transfer", customer: str = "c1") -> limits.LimitContext:
    return limits.LimitContext(customer_id=customer, channel="app", txn_type=txn_type, auth_level="L1", amount=amount,
                               at=at)


def usage(amount: int, count: int = 0) -> dict:
    return item(amount=amount, txn_count=count)


def test_periods_follow_shanghai_calendar() -> None:
    late_utc = datetime(2026, 12, 31, 16, 30, tzinfo=UTC)  # 00:30 on 1 January in Shanghai
    assert limits.period_key("daily", late_utc) == "D20270101"
    assert limits.period_key("monthly", late_utc) == "M202701"
    assert limits.period_key("yearly", late_utc) == "Y2027"
    assert limits.period_end("monthly", late_utc).isoformat() == "2027-02-01T00:00:00+08:00"


def test_keys_read_before_deciding() -> None:
    c = ctx(1_000_00)
    prefix = "CUST#c1#CH#app#TT#transfer#"
    assert limits.customer_usage_keys(c) == [prefix + "D20261126", prefix + "M202611", prefix + "Y2026"]
    assert limits.account_usage_keys("a1", "OUT", AT) == ["ACCT#a1#OUT#D20261126", "ACCT#a1#OUT#Y2026"]
    assert limits.definition_keys(c) == ["BANK#transfer#app#L1", "CUST#c1#transfer#app", "ACCTYPE#II", "ACCTYPE#III"]


def test_customer_plan_builds_conditional_usage_updates() -> None:
    plan = limits.plan_customer(DEFS, ctx(300_00), {})
    assert [cap.period for cap in plan.caps] == ["daily", "monthly"]  # single has no usage; no yearly cap
    daily = plan.items[0]["Update"]
    assert daily["Key"]["pk"]["S"] == "CUST#c1#CH#app#TT#transfer#D20261126"
    assert daily["ExpressionAttributeValues"][":amt_max"] == {"N": str(200_000_00 - 300_00)}
    assert daily["ExpressionAttributeValues"][":cnt_max"] == {"N": "99"}
    assert "ConditionExpression" in daily and daily["ReturnValuesOnConditionCheckFailure"] == "ALL_OLD"
    added = [(d.key.rsplit("#", 1)[1], d.amount, d.count) for d in plan.deltas]
    assert added == [("D20261126", 300_00, 1), ("M202611", 300_00, 1)]


def test_single_and_period_caps_refused_before_writing() -> None:
    limits.plan_customer(DEFS, ctx(50_000_00), {})  # the single cap, reached exactly
    with pytest.raises(LimitExceeded, match="customer single"):
        limits.plan_customer(DEFS, ctx(50_000_01), {})
    keys = limits.customer_usage_keys(ctx(1_00))
    with pytest.raises(LimitExceeded, match="customer daily"):
        limits.plan_customer(DEFS, ctx(1_00), {keys[0]: usage(0, 100)})  # the 101st transfer of the day
    limits.plan_customer(DEFS, ctx(1_00), {keys[0]: usage(0, 99)})


def test_own_limits_lower_the_banks_never_raise_them() -> None:
    own = item(single_amount=1_000_00, daily_amount=900_000_00)  # a daily value above the bank's: ignored
    defs = limits.Definitions({**DEFS.items, limits.customer_key("c1", "transfer", "app"): own})
    caps = {cap.period: cap for cap in defs.customer_caps(ctx(1))}
    assert caps["single"].amount == 1_000_00 and caps["daily"].amount == 200_000_00
    with pytest.raises(LimitExceeded):
        limits.plan_customer(defs, ctx(1_000_01), {})


def test_undefined_operation_is_refused_with_its_own_error() -> None:
    with pytest.raises(limits.LimitNotDefined) as info:
        limits.plan_customer(DEFS, ctx(1, txn_type="loan_drawdown"), {})
    assert info.value.code == "LIMIT_NOT_DEFINED" and info.value.status == 422
    assert not isinstance(info.value, LimitExceeded)


def test_cancellation_maps_to_the_cap_that_failed() -> None:
    plan = limits.plan_customer(DEFS, ctx(1_00), {})
    with pytest.raises(LimitExceeded) as info:
        plan.exceeded([None, Cancellation("ConditionalCheckFailed", {})])
    assert "monthly" in info.value.message
    plan.exceeded([None, Cancellation("TransactionConflict", None)])  # a lost race is no refusal


def test_give_back_decrements_what_was_added() -> None:
    plan = limits.plan_account(DEFS.outflow_caps("II"), "a1", "OUT", 500_00, AT, {})
    back = limits.give_back(plan.deltas, AT + timedelta(hours=1))
    assert [b["Update"]["Key"]["pk"]["S"] for b in back] == ["ACCT#a1#OUT#D20261126", "ACCT#a1#OUT#Y2026"]
    assert all(b["Update"]["ExpressionAttributeValues"][":amt"] == {"N": "-50000"} for b in back)
    assert all("ConditionExpression" not in b["Update"] for b in back)
    assert limits.deltas_from_json(limits.deltas_json(plan.deltas)) == plan.deltas


def test_remaining_is_the_least_of_what_each_cap_leaves() -> None:
    c = ctx(0)
    keys = limits.customer_usage_keys(c)
    left = limits.remaining(DEFS.customer_caps(c), lambda p: limits.customer_usage_key(c, p),
                            {keys[0]: usage(150_000_00, 40), keys[1]: usage(990_000_00, 41)})
    assert left == {"single": {"amount": 50_000_00}, "daily": {"amount": 50_000_00, "count": 60},
                    "monthly": {"amount": 10_000_00}}


# --- properties --------------------------------------------------------------------------------------------

fen = st.integers(min_value=1, max_value=10**12)


@settings(max_examples=300, deadline=None)
@given(cap=fen, used=st.integers(min_value=0, max_value=10**12), amount=fen)
def test_a_period_cap_admits_exactly_what_fits(cap: int, used: int, amount: int) -> None:
    caps = (limits.Cap("account", "daily", amount=cap),)
    key = limits.account_usage_key("a1", "OUT", "daily", AT)
    try:
        plan = limits.plan(caps, lambda period: key, amount, AT, {key: usage(used)})
    except LimitExceeded:
        assert used + amount > cap
    else:
        assert used + amount <= cap
        # the write's own condition says the same: usage <= cap - amount
        assert int(plan.items[0]["Update"]["ExpressionAttributeValues"][":amt_max"]["N"]) == cap - amount


instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(at=instants)
def test_periods_are_shanghai_calendar_periods(at: datetime) -> None:
    local = at.astimezone(config.SHANGHAI)
    assert limits.period_key("daily", at) == local.strftime("D%Y%m%d")
    assert limits.period_key("monthly", at) == local.strftime("M%Y%m")
    for period in limits.PERIODS:
        end = limits.period_end(period, at)
        assert end > at and end.astimezone(config.SHANGHAI).time().isoformat() == "00:00:00"
        assert limits.period_key(period, end - timedelta(microseconds=1)) == limits.period_key(period, at)
        assert limits.period_key(period, end) != limits.period_key(period, at)


@settings(max_examples=200, deadline=None)
@given(day=st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2099, 12, 30).date()),
       before=st.integers(min_value=1, max_value=10**6), after=st.integers(min_value=0, max_value=10**6))
def test_shanghai_midnight_starts_a_new_day_and_month_ends_a_month(day, before: int, after: int) -> None:
    midnight = datetime(day.year, day.month, day.day, tzinfo=config.SHANGHAI) + timedelta(days=1)
    last, first = midnight - timedelta(microseconds=before), midnight + timedelta(microseconds=after)
    assert not limits.same_day(last, first)
    assert limits.same_day(first, midnight)
    # usage counted at 23:59:59.x is not in the next day's item: a daily cap starts afresh at midnight
    assert limits.account_usage_key("a", "OUT", "daily", last) != limits.account_usage_key("a", "OUT", "daily", first)
    month_changes = midnight.day == 1
    assert (limits.period_key("monthly", last) != limits.period_key("monthly", first)) == month_changes
    assert (limits.period_key("yearly", last) != limits.period_key("yearly", first)) == (month_changes
                                                                                         and midnight.month == 1)
