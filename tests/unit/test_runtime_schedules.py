"""The local run's scheduler for schedules created at run time (infra.schedules.RuntimeSchedules), with a test
clock and an in-memory stand-in for the Scheduler API: a cron fires at its due times (not before its StartDate,
not after its EndDate, no catch-up after a jump), an at() fires once and is deleted when it asks to be, the
Input's context attributes are filled in, an updated schedule is due again from its new expression, and an
expression the grammar refuses is never fired."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.schedules import RuntimeSchedules


class NotFound(Exception):
    pass


class FakeScheduler:
    class exceptions:  # noqa: N801 - botocore's shape
        ResourceNotFoundException = NotFound

    def __init__(self) -> None:
        self.schedules: dict[str, dict[str, Any]] = {}

    def put(self, name: str, expression: str, **extra: Any) -> None:
        self.schedules[name] = {"Name": name, "ScheduleExpression": expression, "State": "ENABLED",
                                "ScheduleExpressionTimezone": "Asia/Shanghai",
                                "Target": {"Arn": "arn:fn", "Input": json.dumps({"name": name, "at":
                                                                                 "<aws.scheduler.scheduled-time>"})},
                                **extra}

    def get_paginator(self, _: str) -> Any:
        outer = self

        class Pages:
            def paginate(self, GroupName: str) -> list[dict[str, Any]]:  # noqa: N803
                return [{"Schedules": [{"Name": n} for n in outer.schedules]}]

        return Pages()

    def get_schedule(self, Name: str, GroupName: str) -> dict[str, Any]:  # noqa: N803
        if Name not in self.schedules:
            raise NotFound(Name)
        return dict(self.schedules[Name])

    def delete_schedule(self, Name: str, GroupName: str) -> None:  # noqa: N803
        self.schedules.pop(Name)


def shanghai(d: int, h: int, mi: int = 0) -> datetime:
    return datetime(2026, 12, d, h, mi, tzinfo=UTC) - timedelta(hours=8)


def setup() -> tuple[FakeScheduler, list[dict[str, Any]], dict[str, datetime], RuntimeSchedules]:
    scheduler, calls = FakeScheduler(), []
    clock = {"now": shanghai(1, 9)}
    local = RuntimeSchedules(scheduler, lambda arn, event: calls.append(event) or {"ok": True}, ["g"],
                             now=lambda: clock["now"])
    return scheduler, calls, clock, local


def test_a_cron_fires_at_its_times_within_its_window_without_catching_up() -> None:
    scheduler, calls, clock, local = setup()
    scheduler.put("daily", "cron(0 10 * * ? *)", StartDate=shanghai(1, 9), EndDate=shanghai(5, 0))
    assert local.tick() == []
    clock["now"] = shanghai(1, 10, 0)
    assert [f["schedule"] for f in local.tick()] == ["g/daily"]
    assert calls == [{"name": "daily", "at": "2026-12-01T02:00:00Z"}]
    assert local.tick() == []  # once per due time
    clock["now"] = shanghai(3, 10, 5)  # two days later: the 3rd's firing, the 2nd's is not caught up
    assert len(local.tick()) == 1 and calls[-1]["at"] == "2026-12-03T02:00:00Z"
    assert local.tick() == []
    clock["now"] = shanghai(3, 23)
    assert local.tick() == []
    clock["now"] = shanghai(6, 11)
    local.tick()
    assert [c["at"] for c in calls][-1] == "2026-12-04T02:00:00Z"  # the 5th is past EndDate
    assert local.tick() == []


def test_an_at_schedule_fires_once_and_deletes_itself() -> None:
    scheduler, calls, clock, local = setup()
    scheduler.put("once", "at(2026-12-02T08:00:00)", ActionAfterCompletion="DELETE")
    scheduler.put("kept", "at(2026-12-02T08:00:00)", ActionAfterCompletion="NONE")
    assert local.tick() == []
    clock["now"] = shanghai(2, 8, 1)
    assert sorted(f["schedule"] for f in local.tick()) == ["g/kept", "g/once"]
    assert list(scheduler.schedules) == ["kept"]
    clock["now"] = shanghai(9, 8)
    assert local.tick() == []


def test_an_updated_schedule_is_due_from_its_new_expression_and_a_bad_one_never_fires() -> None:
    scheduler, calls, clock, local = setup()
    scheduler.put("s", "cron(0 10 * * ? *)")
    local.tick()
    scheduler.put("s", "cron(30 9 * * ? *)")
    assert local.tick() == []  # seen changed at 09:00: due at 09:30
    clock["now"] = shanghai(1, 9, 30)
    assert len(local.tick()) == 1
    scheduler.put("bad", "cron(0 10 ? * MON-FRI#2 *)")
    scheduler.put("w", "cron(0 10 15W * ? *)")
    clock["now"] = shanghai(20, 12)
    assert all(f["schedule"] == "g/s" for f in local.tick())
