"""Scheduled marketing on moto: staff scheduling a cron campaign creates its EventBridge Scheduler schedule
(Asia/Shanghai, the trigger function's alias, the scheduled time in its Input), pausing and ending remove it; the
local scheduler (infra.schedules.RuntimeSchedules, over moto, with a test clock) fires it; each firing runs once
(its fire record), reaches the audience snapshot through the contact policy (opt-out, holdout, caps), defers what
falls in the quiet hours to a one-time at() schedule that deletes itself after firing; domain events reach the
customer they are about."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from infra.schedules import RuntimeSchedules
from tests.functional.conftest import pump
from tests.functional.test_marketing_audience import event, send
from tests.support.api import Api
from tests.support.marketing import PATH, campaign_body, running_campaign

SHANGHAI = timedelta(hours=8)
OPTED_IN = {"kyc_level": "L2", "opted_out": False}


class Clock:
    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


def group(aws: Any) -> str:
    return str(aws["SCHEDULE_GROUP"]) if "SCHEDULE_GROUP" in aws.env else aws.naming.name("MarketingSchedules")


def schedules(aws: Any) -> dict[str, dict[str, Any]]:
    client = boto3.client("scheduler")
    names = [s["Name"] for s in client.list_schedules(GroupName=group(aws))["Schedules"]]
    return {name: client.get_schedule(Name=name, GroupName=group(aws)) for name in names}


def shanghai_next(hour: int) -> datetime:
    """The next hh:00 Asia/Shanghai from now, in UTC."""
    local = datetime.now(UTC) + SHANGHAI
    target = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= local:
        target += timedelta(days=1)
    return (target - SHANGHAI).replace(tzinfo=UTC)


def scheduler(aws: Any, runtime: Any, clock: Clock) -> RuntimeSchedules:
    return RuntimeSchedules(boto3.client("scheduler"), runtime.invoke_arn, [group(aws)], now=clock)


def profiles(aws: Any, runtime: Any, **by_customer: dict[str, Any]) -> None:
    send(aws, *(event(customer, "profile", profile=profile) for customer, profile in by_customer.items()))
    pump(runtime, aws.queue_urls["BehaviourQueue"], "IngestBehaviourFunction")


def transition(api: Api, marketer: str, campaign_id: str, action: str) -> Any:
    r = api.call("POST", f"{PATH}/{campaign_id}/transitions", {"action": action}, token=marketer, channel="web")
    assert r.status == 200, r.body
    return r.body


def test_scheduling_creates_the_campaigns_cron_and_pause_and_end_remove_it(api: Api, marketer: str,
                                                                          aws: Any) -> None:
    body = campaign_body(trigger={"cron": "cron(0 10 * * ? *)"})
    cid = api.call("POST", PATH, body, token=marketer, channel="web").body["campaign_id"]
    assert schedules(aws) == {}
    transition(api, marketer, cid, "schedule")
    made = schedules(aws)[f"mkt-{cid}"]
    assert made["ScheduleExpression"] == "cron(0 10 * * ? *)"
    assert made["ScheduleExpressionTimezone"] == "Asia/Shanghai"
    assert made["Target"]["Arn"].endswith(":function:test-MarketingTriggerFunction:live")
    assert json.loads(made["Target"]["Input"]) == {"kind": "campaign", "campaign_id": cid,
                                                   "scheduled_time": "<aws.scheduler.scheduled-time>"}
    transition(api, marketer, cid, "schedule")  # scheduled again before its start: the schedule is updated
    assert list(schedules(aws)) == [f"mkt-{cid}"]
    transition(api, marketer, cid, "end")
    assert schedules(aws) == {}
    running = running_campaign(api, marketer, trigger={"cron": "cron(0 10 * * ? *)"})
    transition(api, marketer, running, "pause")
    assert schedules(aws) == {}
    transition(api, marketer, running, "resume")
    assert list(schedules(aws)) == [f"mkt-{running}"]


def test_invalid_triggers_are_422(api: Api, marketer: str) -> None:
    for trigger, product in (({"cron": "cron(0 10 * * * *)"}, None), ({"cron": "cron(0 10 30 2 ? *)"}, None),
                             ({"event": "kyc_passed", "cron": "cron(0 10 * * ? *)"}, None), ({}, None),
                             ({"cron": "cron(0 10 * * ? *)"}, {"risk_level": "R2", "private": True})):
        body = campaign_body(trigger=trigger, **({"product": product} if product else {}))
        r = api.call("POST", PATH, body, token=marketer, channel="web")
        assert r.status == 422 and r.body["error"]["code"] == "INVALID_CAMPAIGN", (trigger, r.body)


def test_a_cron_firing_reaches_its_snapshot_once_within_the_contact_policy(api: Api, marketer: str, runtime: Any,
                                                                          aws: Any, pushes: Any) -> None:
    cid = running_campaign(api, marketer, holdout_percent=0, trigger={"cron": "cron(0 10 * * ? *)"},
                           segment={"field": "kyc_level", "op": "eq", "value": "L2"})
    profiles(aws, runtime, **{"c-t-in": OPTED_IN, "c-t-out": {"kyc_level": "L2", "opted_out": True},
                              "c-t-l1": {"kyc_level": "L1", "opted_out": False}})
    due = shanghai_next(10)
    clock = Clock(due - timedelta(minutes=1))
    local = scheduler(aws, runtime, clock)
    assert local.tick() == []  # not yet
    clock.at = due + timedelta(seconds=20)
    fired = local.tick()
    assert [f["answer"] for f in fired] == [{"ok": True, "fired": True, "audience": 2, "pushed": 1,
                                             "opted_out": 1}]
    assert [(p["customer_id"], p["campaign_id"]) for p in pushes()] == [("c-t-in", cid)]
    # The same firing delivered twice: its fire record says it ran.
    again = {"kind": "campaign", "campaign_id": cid, "scheduled_time": due.strftime("%Y-%m-%dT%H:%M:%SZ")}
    assert runtime.invoke("MarketingTriggerFunction", again) == {"ok": True, "fired": False,
                                                                  "reason": "already_fired"}
    assert local.tick() == []  # the next is tomorrow
    # A customer who joins the segment later is not in the running campaign's snapshot.
    profiles(aws, runtime, **{"c-t-late": OPTED_IN})
    clock.at = due + timedelta(days=1, seconds=5)
    tomorrow = local.tick()
    assert [f["answer"]["audience"] for f in tomorrow] == [2]
    assert len(pushes()) == 2  # c-t-in again: a new Shanghai day


def test_quiet_hours_defer_to_a_one_time_schedule_that_deletes_itself(api: Api, marketer: str, runtime: Any,
                                                                      aws: Any, pushes: Any) -> None:
    cid = running_campaign(api, marketer, holdout_percent=0, trigger={"cron": "cron(30 22 * * ? *)"})
    profiles(aws, runtime, **{"c-q-1": OPTED_IN})
    due = shanghai_next(22) + timedelta(minutes=30)
    clock = Clock(due - timedelta(seconds=5))
    local = scheduler(aws, runtime, clock)
    local.tick()
    clock.at = due
    fired = local.tick()
    assert fired[0]["answer"]["deferred"] >= 1 and pushes() == []
    steps = {name: s for name, s in schedules(aws).items() if name.startswith("mkt-step-")}
    assert len(steps) >= 1
    step = next(s for s in steps.values() if json.loads(s["Target"]["Input"])["customer_id"] == "c-q-1")
    assert step["ActionAfterCompletion"] == "DELETE" and step["ScheduleExpressionTimezone"] == "Asia/Shanghai"
    morning = (due + SHANGHAI).replace(hour=8, minute=0) + timedelta(days=1) - SHANGHAI
    assert step["ScheduleExpression"] == f"at({(morning + SHANGHAI).strftime('%Y-%m-%dT%H:%M:%S')})"
    clock.at = morning + timedelta(seconds=30)
    woke = local.tick()
    assert {"ok": True, "fired": True, "outcome": "pushed"} in [f["answer"] for f in woke]
    assert [(p["customer_id"], p["campaign_id"]) for p in pushes()] == [("c-q-1", cid)]
    assert step["Name"] not in schedules(aws)  # fired once, then deleted


def test_the_daily_cap_holds_across_campaigns(api: Api, marketer: str, runtime: Any, aws: Any,
                                              pushes: Any) -> None:
    campaigns = [running_campaign(api, marketer, holdout_percent=0) for _ in range(3)]
    profiles(aws, runtime, **{"c-cap": OPTED_IN})
    noon = shanghai_next(12)
    answers = [runtime.invoke("MarketingTriggerFunction", {
        "kind": "step", "campaign_id": cid, "customer_id": "c-cap", "step": "s1",
        "scheduled_time": noon.strftime("%Y-%m-%dT%H:%M:%SZ")})["outcome"] for cid in campaigns]
    assert answers == ["pushed", "capped", "capped"] and len(pushes()) == 1
    # The next days: one each, and the ISO week's third is the last.
    week_start = noon - timedelta(days=(noon + SHANGHAI).weekday())
    outcomes = []
    for day in range(7):
        when = week_start + timedelta(days=day, weeks=1)
        outcomes.append(runtime.invoke("MarketingTriggerFunction", {
            "kind": "step", "campaign_id": campaigns[0], "customer_id": "c-cap", "step": f"w{day}",
            "scheduled_time": when.strftime("%Y-%m-%dT%H:%M:%SZ")})["outcome"])
    assert outcomes == ["pushed"] * 3 + ["capped"] * 4


def test_a_domain_event_reaches_its_customer_now_or_after_its_delay(api: Api, marketer: str, runtime: Any,
                                                                    aws: Any, pushes: Any) -> None:
    now_cid = running_campaign(api, marketer, holdout_percent=0, trigger={"event": "kyc_passed"},
                               segment={"field": "kyc_level", "op": "eq", "value": "L2"})
    later_cid = running_campaign(api, marketer, holdout_percent=0,
                                 trigger={"event": "kyc_passed", "delay_minutes": 60})
    running_campaign(api, marketer, holdout_percent=0, trigger={"event": "first_deposit"})
    profiles(aws, runtime, **{"c-ev": OPTED_IN, "c-ev-l1": {"kyc_level": "L1"}})
    noon = shanghai_next(12)
    sample = json.loads(open("events/marketing/trigger.eventbridge.json").read())
    kyc = {**sample, "id": "evt-kyc-1", "time": noon.strftime("%Y-%m-%dT%H:%M:%SZ"),
           "detail": {"customer_id": "c-ev"}}
    result = runtime.invoke("MarketingTriggerFunction", kyc)
    assert result["outcomes"] == {now_cid: "pushed", later_cid: "scheduled"}, result
    assert runtime.invoke("MarketingTriggerFunction", kyc)["outcomes"] == {now_cid: "already_fired",
                                                                          later_cid: "already_fired"}
    other = runtime.invoke("MarketingTriggerFunction", {**kyc, "id": "evt-kyc-2", "detail": {"customer_id": "c-ev-l1"}})
    assert other["outcomes"][now_cid] == "not_in_segment"
    step = next(s for s in schedules(aws).values() if json.loads(s["Target"]["Input"]).get("campaign_id") == later_cid
                and json.loads(s["Target"]["Input"])["customer_id"] == "c-ev")
    assert step["ScheduleExpression"] == f"at({(noon + SHANGHAI + timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%S')})"
    assert [p["customer_id"] for p in pushes()] == ["c-ev"]


def test_wealth_campaigns_reach_only_customers_whose_assessment_allows_the_product(
        api: Api, marketer: str, runtime: Any, aws: Any, pushes: Any) -> None:
    cid = running_campaign(api, marketer, holdout_percent=0, product={"risk_level": "R3"},
                           trigger={"event": "wealth_matured"})
    valid = (datetime.now(UTC) + timedelta(days=200)).date().isoformat()
    lapsed = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    profiles(aws, runtime, **{"c-w-c4": {"risk_level": "C4", "risk_expires_on": valid},
                              "c-w-c2": {"risk_level": "C2", "risk_expires_on": valid},
                              "c-w-old": {"risk_level": "C5", "risk_expires_on": lapsed}})
    noon = shanghai_next(12).strftime("%Y-%m-%dT%H:%M:%SZ")
    outcomes = {customer: runtime.invoke("MarketingTriggerFunction", {
        "version": "0", "id": f"evt-w-{customer}", "detail-type": "WealthMatured", "source": "bank.wealth",
        "time": noon, "detail": {"customer_id": customer}})["outcomes"][cid]
        for customer in ("c-w-c4", "c-w-c2", "c-w-old")}
    assert outcomes == {"c-w-c4": "pushed", "c-w-c2": "risk_not_allowed", "c-w-old": "risk_not_allowed"}
