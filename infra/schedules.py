"""The local run's EventBridge Scheduler.

moto stores schedules but never fires them. The templates' schedules (ScheduleV2 events) are fired by
infra.local's scheduler threads; the schedules centers create at run time (in moto, through the `scheduler` API)
are fired by `RuntimeSchedules`: it lists them from moto, validates and evaluates each expression itself
(bank_common.schedules, the EventBridge grammar), fills the Input's context attributes
(`<aws.scheduler.scheduled-time>` and the like) as Scheduler does, invokes the target, and deletes an at()
schedule after its firing when its ActionAfterCompletion is DELETE. A schedule is fired once per due time; times
missed while the clock jumped are not caught up (Scheduler fires on time, it never has a backlog).

The clock is injectable (`now`): the local run ticks it with the wall clock every second; tests create their own
instance over the local run's moto and Lambda Invoke API, and move a test clock.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from infra.centers import LAYER

if str(LAYER) not in sys.path:  # `python -m infra.local` runs without the layer on its path
    sys.path.append(str(LAYER))

from bank_common.schedules import ScheduleDone, UnsupportedSchedule, next_fire, parse_at, validate  # noqa: E402

__all__ = ["RuntimeSchedules", "ScheduleDone", "UnsupportedSchedule", "next_fire", "parse_at", "validate"]


@dataclass
class _Tracked:
    fingerprint: str
    due: datetime | None  # None: done (an at() that fired, a schedule past its end) or refused


class RuntimeSchedules:
    def __init__(self, scheduler: Any, invoke: Callable[[str, dict[str, Any]], Any], groups: list[str],
                 now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 say: Callable[[str], None] = lambda text: None) -> None:
        self.scheduler, self.invoke, self.groups, self.now, self.say = scheduler, invoke, groups, now, say
        self._tracked: dict[str, _Tracked] = {}
        self._details: dict[str, tuple[Any, dict[str, Any]]] = {}  # key -> (LastModificationDate, the schedule)

    def _schedules(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for group in self.groups:
            for page in self.scheduler.get_paginator("list_schedules").paginate(GroupName=group):
                for summary in page.get("Schedules") or []:
                    key, stamp = f"{group}/{summary['Name']}", summary.get("LastModificationDate")
                    cached = self._details.get(key)
                    if cached is None or stamp is None or cached[0] != stamp:  # read again only what changed
                        try:
                            cached = (stamp, self.scheduler.get_schedule(Name=summary["Name"], GroupName=group))
                        except self.scheduler.exceptions.ResourceNotFoundException:
                            continue  # deleted since listed
                        self._details[key] = cached
                    out.append((group, cached[1]))
        return out

    def _first_due(self, schedule: dict[str, Any], now: datetime) -> datetime | None:
        expression, zone = schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone")
        once = parse_at(expression, zone)
        if once is not None:
            return once.astimezone(UTC)  # an at() in the past fires at once, as Scheduler does
        start = schedule.get("StartDate")
        after = max(now, start.astimezone(UTC)) if isinstance(start, datetime) else now
        return next_fire(expression, zone, after).astimezone(UTC)

    def tick(self) -> list[dict[str, Any]]:
        """Fire every schedule due at `now()`; what was fired (name, due time, the target's answer)."""
        now = self.now()
        fired = []
        seen = set()
        for group, schedule in self._schedules():
            key = f"{group}/{schedule['Name']}"
            seen.add(key)
            fingerprint = json.dumps([schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone"),
                                      str(schedule.get("StartDate")), str(schedule.get("EndDate")),
                                      schedule.get("Target"), schedule.get("State")], sort_keys=True, default=str)
            tracked = self._tracked.get(key)
            if tracked is None or tracked.fingerprint != fingerprint:  # new, or updated: due again from now
                try:
                    tracked = _Tracked(fingerprint, self._first_due(schedule, now))
                except (UnsupportedSchedule, ScheduleDone) as exc:
                    self.say(f"[scheduler] {key} refused: {exc}")
                    tracked = _Tracked(fingerprint, None)
                self._tracked[key] = tracked
            if tracked.due is None or tracked.due > now or schedule.get("State", "ENABLED") != "ENABLED":
                continue
            end = schedule.get("EndDate")
            end = end.astimezone(UTC) if isinstance(end, datetime) else None
            if end is not None and tracked.due > end:
                tracked.due = None
                continue
            tracked.due = self._latest_due(schedule, tracked.due, min(now, end) if end else now)
            fired.append(self._fire(schedule, key, tracked.due))
            tracked.due = self._after(schedule, key, tracked.due, now)
        for key in set(self._tracked) - seen:
            del self._tracked[key]
        for key in set(self._details) - seen:
            del self._details[key]
        return fired

    @staticmethod
    def _latest_due(schedule: dict[str, Any], due: datetime, until: datetime) -> datetime:
        """After a jump of the clock, the last due time not after `until`: the one firing Scheduler would be
        making now (those before it were never missed in AWS; here they are skipped, not caught up)."""
        while True:
            try:
                later = next_fire(schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone"), due)
            except ScheduleDone:
                return due
            if later > until:
                return due
            due = later.astimezone(UTC)

    def _fire(self, schedule: dict[str, Any], key: str, due: datetime) -> dict[str, Any]:
        target = schedule["Target"]
        text = target.get("Input") or "{}"
        for attribute, value in {"scheduled-time": due.strftime("%Y-%m-%dT%H:%M:%SZ"),
                                 "execution-id": str(uuid.uuid4()), "attempt-number": "1",
                                 "schedule-arn": schedule.get("Arn", key)}.items():
            text = text.replace(f"<aws.scheduler.{attribute}>", value)
        self.say(f"[scheduler] firing {key} due {due.isoformat()} -> {target['Arn']}")
        try:
            answer = self.invoke(target["Arn"], json.loads(text))
        except Exception as exc:  # noqa: BLE001 - a failed target is reported, the scheduler carries on
            answer = {"error": f"{type(exc).__name__}: {exc}"}
            self.say(f"[scheduler] {key} failed: {answer['error']}")
        return {"schedule": key, "due": due, "answer": answer}

    def _after(self, schedule: dict[str, Any], key: str, due: datetime, now: datetime) -> datetime | None:
        try:
            return next_fire(schedule["ScheduleExpression"], schedule.get("ScheduleExpressionTimezone"),
                             max(due, now)).astimezone(UTC)
        except ScheduleDone:  # an at(): fired once; deleted if it asks to be
            if schedule.get("ActionAfterCompletion") == "DELETE":
                group, _, name = key.partition("/")
                try:
                    self.scheduler.delete_schedule(Name=name, GroupName=group)
                except self.scheduler.exceptions.ResourceNotFoundException:
                    pass
            return None
