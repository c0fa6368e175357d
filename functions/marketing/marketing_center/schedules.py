"""EventBridge Scheduler schedules the center creates at run time (botocore `scheduler`, bank_common.aws's session),
all in the center's schedule group, all targeting the trigger function's live alias with the role Scheduler
assumes to invoke it:

- a campaign's cron (`mkt-<campaign id>`), Asia/Shanghai, from its start (or now) to its end: created when staff
  schedule (or resume) it, deleted on pause and end;
- one `at(...)` per customer step (`mkt-step-<hash>`), ActionAfterCompletion DELETE: a step deferred past the
  quiet hours, or a domain event's follow-up after its delay.

The Input carries `<aws.scheduler.scheduled-time>`, which Scheduler fills in at each firing: the firing's identity
(its fire record) and the instant the contact policy judges.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bank_common import aws, config

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
ZONE = "Asia/Shanghai"


def _target(payload: dict[str, Any], target_arn: str) -> dict[str, Any]:
    return {"Arn": target_arn, "RoleArn": config.env("SCHEDULER_ROLE_ARN"),
            "Input": json.dumps({**payload, "scheduled_time": SCHEDULED_TIME}),
            "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}}


def _group() -> str:
    return config.env("SCHEDULE_GROUP")


def campaign_name(campaign_id: str) -> str:
    return f"mkt-{campaign_id}"


def put_campaign_cron(campaign_id: str, expression: str, starts: datetime, ends: datetime) -> None:
    """Create (or replace) the campaign's cron schedule, firing between `starts` and `ends`."""
    params = {"Name": campaign_name(campaign_id), "GroupName": _group(), "ScheduleExpression": expression,
              "ScheduleExpressionTimezone": ZONE, "StartDate": starts, "EndDate": ends, "State": "ENABLED",
              "FlexibleTimeWindow": {"Mode": "OFF"}, "ActionAfterCompletion": "NONE",
              "Target": _target({"kind": "campaign", "campaign_id": campaign_id},
                                config.env("TRIGGER_FUNCTION_ARN"))}
    client = aws.client("scheduler")
    try:
        client.create_schedule(**params)
    except client.exceptions.ConflictException:  # scheduled again before its start: the new window
        client.update_schedule(**params)


def delete_campaign_cron(campaign_id: str) -> None:
    client = aws.client("scheduler")
    try:
        client.delete_schedule(Name=campaign_name(campaign_id), GroupName=_group())
    except client.exceptions.ResourceNotFoundException:
        pass  # never created (no cron), or already deleted


def step_name(campaign_id: str, customer_id: str, step: str) -> str:
    digest = hashlib.sha256(f"{campaign_id}\x1f{customer_id}\x1f{step}".encode()).hexdigest()[:40]
    return f"mkt-step-{digest}"


def put_step(campaign_id: str, customer_id: str, step: str, when: datetime, target_arn: str, *,
             broadcast: bool) -> bool:
    """A one-time schedule for one customer's step, deleted once it has fired. False if it already exists (the
    same step deferred twice, e.g. a redelivered firing)."""
    when = max(when, datetime.now(UTC) + timedelta(minutes=1))  # an event delivered after its delay: fire soon
    local = when.astimezone(config.SHANGHAI).replace(tzinfo=None, microsecond=0)
    client = aws.client("scheduler")
    try:
        client.create_schedule(
            Name=step_name(campaign_id, customer_id, step), GroupName=_group(),
            ScheduleExpression=f"at({local.isoformat()})", ScheduleExpressionTimezone=ZONE, State="ENABLED",
            FlexibleTimeWindow={"Mode": "OFF"}, ActionAfterCompletion="DELETE",
            Target=_target({"kind": "step", "campaign_id": campaign_id, "customer_id": customer_id, "step": step,
                            "broadcast": broadcast}, target_arn))
    except client.exceptions.ConflictException:
        return False
    return True


def scheduled_time(value: str | None) -> datetime:
    """The firing's instant from its Input (Scheduler's ISO 8601 UTC), else now (an event with none)."""
    if not value or value == SCHEDULED_TIME:
        return datetime.now(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
