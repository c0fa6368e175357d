"""The marketing center's rules without AWS: the campaign state machine, the holdout group, and budget periods
in Asia/Shanghai (property-based around midnight, week and month boundaries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bank_common import config, marketing_effects
from marketing_center.logic import holdout, states

START, END = 1_000_000, 2_000_000


@pytest.mark.parametrize("state", states.STATES)
@pytest.mark.parametrize("action", states.ACTIONS)
def test_every_state_action_pair_is_a_transition_or_a_stable_refusal(state: str, action: str) -> None:
    if (state, action) in states.TRANSITIONS:
        assert states.next_state(state, action) in states.STATES
        return
    with pytest.raises(states.IllegalTransition) as refused:
        states.next_state(state, action)
    assert refused.value.status == 409 and refused.value.code == "ILLEGAL_TRANSITION"
    assert refused.value.details["state"] == state and action not in refused.value.details["allowed"]


def test_the_machine_is_the_one_the_issue_names() -> None:
    assert states.TRANSITIONS == {
        ("draft", "schedule"): "scheduled", ("scheduled", "schedule"): "scheduled",
        ("running", "pause"): "paused", ("paused", "resume"): "running",
        ("scheduled", "end"): "ended", ("running", "end"): "ended", ("paused", "end"): "ended"}
    assert not any(state == "ended" for state, _ in states.TRANSITIONS)  # ended is final


@pytest.mark.parametrize(("stored", "now", "effective"), [
    ("draft", START + 1, "draft"),  # a draft never starts by itself
    ("draft", END + 1, "draft"),
    ("scheduled", START - 1, "scheduled"), ("scheduled", START, "running"), ("scheduled", END, "ended"),
    ("running", END - 1, "running"), ("running", END, "ended"),
    ("paused", START + 5, "paused"), ("paused", END, "ended"),
    ("ended", START - 1, "ended"),
])
def test_the_clock_moves_a_campaign_on(stored: str, now: int, effective: str) -> None:
    assert states.effective(stored, START, END, now) == effective


def test_an_ended_campaign_cannot_be_edited() -> None:
    for state in ("draft", "scheduled", "running", "paused"):
        states.editable(state)
    with pytest.raises(states.CampaignEnded):
        states.editable("ended")


def test_holdout_is_deterministic_and_about_its_share() -> None:
    ids = [f"c-{i:06d}" for i in range(20_000)]
    held = [c for c in ids if holdout.in_holdout("cmp-a", c, 10)]
    assert held == [c for c in ids if holdout.in_holdout("cmp-a", c, 10)]  # same answer every time
    assert 0.09 < len(held) / len(ids) < 0.11
    assert not any(holdout.in_holdout("cmp-a", c, 0) for c in ids[:1000])
    other = {c for c in ids if holdout.in_holdout("cmp-b", c, 10)}
    assert len(other & set(held)) < len(held) * 0.2  # another campaign holds out other customers
    # Growing the share only adds customers: nobody leaves the group.
    assert set(held) <= {c for c in ids if holdout.in_holdout("cmp-a", c, 20)}


instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(instants)
def test_periods_are_shanghai_calendar_periods(at: datetime) -> None:
    local = at.astimezone(config.SHANGHAI)
    assert marketing_effects.period_key("day", at) == local.strftime("D%Y%m%d")
    assert marketing_effects.period_key("month", at) == local.strftime("M%Y%m")
    iso = local.isocalendar()
    assert marketing_effects.period_key("week", at) == f"W{iso.year}-{iso.week:02d}"
    assert marketing_effects.period_key("campaign", at) == "ALL"
    for period in ("day", "week", "month"):
        start = marketing_effects.period_start(period, at)
        assert start is not None and start <= at
        # The period's first instant is in it; the instant before is not.
        assert marketing_effects.period_key(period, start) == marketing_effects.period_key(period, at)
        assert marketing_effects.period_key(period, start - timedelta(microseconds=1)) != \
            marketing_effects.period_key(period, at)


@given(st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2099, 12, 30).date()))
def test_a_shanghai_midnight_is_four_pm_utc(day: object) -> None:
    midnight = datetime(day.year, day.month, day.day, tzinfo=config.SHANGHAI)  # type: ignore[attr-defined]
    before, at = midnight - timedelta(microseconds=1), midnight
    assert at.astimezone(UTC).hour == 16
    assert marketing_effects.period_key("day", before) != marketing_effects.period_key("day", at)
    changes_week = at.weekday() == 0
    assert (marketing_effects.period_key("week", before) != marketing_effects.period_key("week", at)) == changes_week
    changes_month = at.day == 1
    assert (marketing_effects.period_key("month", before) != marketing_effects.period_key("month", at)) == \
        changes_month


def test_a_year_end_week_belongs_to_its_iso_year() -> None:
    # 2026-12-31 (Thursday) is in ISO week 2026-53; 2027-01-01 00:00 Shanghai is still in that week.
    assert marketing_effects.period_key("week", datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == "W2026-53"
    assert marketing_effects.period_key("week", datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "W2026-53"
    assert marketing_effects.period_key("month", datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "M202701"


def test_a_budget_that_could_never_take_the_amount_is_refused_before_writing() -> None:
    budget = marketing_effects.Budget("redeem", 500, "day", "customer")
    counters = marketing_effects.counters("cmp-x", [budget], "redeem", datetime.now(UTC), "c-1")
    assert marketing_effects.fits(counters, 500) is None
    assert marketing_effects.fits(counters, 501) == counters[0]


def test_an_integer_field_takes_a_json_number_with_a_zero_fraction() -> None:
    """JSON Schema counts 2923.0 as an integer (schemathesis sends such numbers), so the API must too."""
    import msgspec

    from bank_common import schema
    from bank_common.errors import ValidationFailed

    class Body(schema.Strict):
        n: int
        f: float = 0.0
        names: list[str] = []

    assert schema.decode({"n": 2923.0, "f": 1}, Body) == Body(n=2923, f=1.0)
    for bad in ({"n": 2923.5}, {"n": 1.0, "names": [1.0]}, {"n": "1"}):
        with pytest.raises(ValidationFailed):
            schema.decode(bad, Body)
    assert msgspec.convert({"n": 3}, Body).n == 3


@given(instants)
def test_points_become_available_at_the_next_shanghai_midnight(at: datetime) -> None:
    available = marketing_effects.available_from(at)
    local = available.astimezone(config.SHANGHAI)
    assert (local.hour, local.minute, local.second, local.microsecond) == (0, 0, 0, 0)
    assert at < available <= at + timedelta(days=1)
    assert marketing_effects.period_key("day", available) != marketing_effects.period_key("day", at)
