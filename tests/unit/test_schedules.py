"""The local scheduler's EventBridge expressions (infra.schedules): cron against croniter as an oracle (a
differential test over generated expressions), the AWS-only forms (?, L, L-n, nL, n#k, names, years), at() and
rate(), the Asia/Shanghai zone, and expressions refused rather than approximated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.schedules import UnsupportedSchedule, next_fire, validate

SHANGHAI = "Asia/Shanghai"


def field(low: int, high: int, allow_star: bool = True) -> st.SearchStrategy[str]:
    single = st.integers(low, high).map(str)
    # (croniter reads a one-value range "2-2" as "*": ranges here have two ends)
    span = st.tuples(st.integers(low, high), st.integers(low, high)).filter(lambda t: t[0] != t[1]).map(
        lambda t: f"{min(t)}-{max(t)}")
    step = st.tuples(st.integers(low, high), st.integers(1, max(1, (high - low) // 2))).map(lambda t: f"{t[0]}/{t[1]}")
    listed = st.lists(single, min_size=2, max_size=3, unique=True).map(",".join)
    options = [single, span, step, listed] + ([st.just("*"), st.just("*/5")] if allow_star else [])
    return st.one_of(*options)


def aws_to_cron(aws: str, dow_mode: bool) -> str:
    """The same schedule for croniter (5 fields, day-of-week 0 = Sunday)."""
    minute, hour, dom, month, dow, _ = aws.split()
    if dow_mode:
        def shift(part: str) -> str:
            return "-".join(str(int(p) - 1) for p in part.split("-"))
        dow = ",".join(shift(p) for p in dow.split(","))
        dom = "*"
    else:
        dow = "*"
    return f"{minute} {hour} {dom} {month} {dow}"


@settings(max_examples=300, deadline=None)
@given(minute=field(0, 59), hour=field(0, 23), dom=field(1, 28), month=field(1, 12),
       dow=st.one_of(st.integers(1, 7).map(str),
                     st.tuples(st.integers(1, 7), st.integers(1, 7)).filter(lambda t: t[0] != t[1]).map(
                         lambda t: f"{min(t)}-{max(t)}")),
       dow_mode=st.booleans(),
       after=st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1)))
def test_cron_agrees_with_croniter(minute: str, hour: str, dom: str, month: str, dow: str, dow_mode: bool,
                                   after: datetime) -> None:
    aws = f"{minute} {hour} {'?' if dow_mode else dom} {month} {dow if dow_mode else '?'} *"
    ours = next_fire(f"cron({aws})", None, after.replace(tzinfo=UTC))
    oracle = croniter(aws_to_cron(aws, dow_mode), after.replace(tzinfo=UTC)).get_next(datetime)
    assert ours == oracle, aws


@pytest.mark.parametrize(("expression", "after", "expected"), [
    ("cron(0 12 ? * MON-FRI *)", "2026-03-01T00:00", "2026-03-02T12:00"),  # Sunday → Monday
    ("cron(0 9 L * ? *)", "2026-02-01T00:00", "2026-02-28T09:00"),  # the last day of the month
    ("cron(0 9 L-2 * ? *)", "2026-02-01T00:00", "2026-02-26T09:00"),
    ("cron(0 9 ? * 6#2 *)", "2026-03-01T00:00", "2026-03-13T09:00"),  # the second Friday
    ("cron(0 9 ? * 5L *)", "2026-03-01T00:00", "2026-03-26T09:00"),  # the last Thursday
    ("cron(0 9 ? * L *)", "2026-03-01T00:00", "2026-03-07T09:00"),  # L alone: Saturday
    ("cron(0 0 29 FEB ? 2026-2030)", "2026-01-01T00:00", "2028-02-29T00:00"),  # leap years only
    ("cron(15 10 ? * SUN,SAT 2027)", "2026-06-01T00:00", "2027-01-02T10:15"),
    ("cron(0/20 8-9 * * ? *)", "2026-03-01T09:40", "2026-03-02T08:00"),
    ("at(2026-12-01T09:00:00)", "2026-11-28T00:00", "2026-12-01T09:00"),
    ("rate(2 days)", "2026-03-01T00:00", "2026-03-03T00:00"),
    ("rate(1 minute)", "2026-03-01T00:00", "2026-03-01T00:01"),
])
def test_aws_forms_in_shanghai(expression: str, after: str, expected: str) -> None:
    from bank_common.config import SHANGHAI as ZONE

    start = datetime.fromisoformat(after).replace(tzinfo=ZONE)
    got = next_fire(expression, SHANGHAI, start)
    assert got.astimezone(ZONE).replace(tzinfo=None) == datetime.fromisoformat(expected)


def test_a_shanghai_cron_fires_at_shanghai_time() -> None:
    at = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    assert next_fire("cron(30 0 * * ? *)", SHANGHAI, at).astimezone(UTC) == datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    assert next_fire("cron(0 2 * * ? *)", SHANGHAI, at) - at == timedelta(hours=18)


@pytest.mark.parametrize("bad", [
    "cron(61 0 * * ? *)", "cron(0 12 * * * *)", "cron(0 12 ? * ? *)", "cron(0 12 * *)", "cron(0 9 1W * ? *)",
    "cron(0 9 30 2 ? *)", "cron(0 9 ? * 8 *)", "cron(0 9 ? * 2#6 *)", "cron(0 9 5-1 * ? *)", "cron(0 24 * * ? *)",
    "rate(0 minutes)", "rate(1 week)", "at(2026-13-01T00:00:00)", "at(2026-12-01)", "every day",
])
def test_expressions_the_scheduler_cannot_evaluate_exactly_are_refused(bad: str) -> None:
    with pytest.raises(UnsupportedSchedule):
        validate(bad, SHANGHAI)


def test_a_one_time_schedule_fires_once() -> None:
    from infra.schedules import ScheduleDone

    due = next_fire("at(2026-12-01T09:00:00)", SHANGHAI, datetime(2026, 11, 30, tzinfo=UTC))
    with pytest.raises(ScheduleDone):
        next_fire("at(2026-12-01T09:00:00)", SHANGHAI, due)
    validate("at(2020-01-01T00:00:00)", SHANGHAI)  # well formed, even when past


def test_every_schedule_in_the_templates_is_one_the_local_scheduler_runs() -> None:
    from infra import template

    found = [(fn.logical_id, e["Properties"]) for fn in template.functions() for e in fn.events.values()
             if e.get("Type") in ("Schedule", "ScheduleV2")]
    assert found
    for logical_id, props in found:
        validate(str(props["ScheduleExpression"]), props.get("ScheduleExpressionTimezone"))
        assert logical_id
