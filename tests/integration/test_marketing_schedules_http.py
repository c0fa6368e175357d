"""Done when (issue 10, scheduled marketing): through the local run's API and scheduled functions, a campaign
created by marketing staff fires on its schedule and reaches its segment within the contact policy.

Over HTTP against the local run (DynamoDB Local): the marketer creates and schedules a campaign with a cron; its
audience arrives as profile events on the behaviour queue (the local run's poller ingests them); the local
scheduler (infra.schedules.RuntimeSchedules over the local run's moto, invoking through its Lambda Invoke API)
is driven with a test clock to the cron's next 10:00 Asia/Shanghai; the fake push adapter's sink shows who was
reached. Then: the same customers in a second campaign that day are capped; 8 campaigns' steps for one customer
racing through the Invoke API push once; a domain event put on the bus reaches its customer through the local
run's rule bridge."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.schedules import RuntimeSchedules
from tests.live_platform import LocalPlatform
from tests.support.api import Api
from tests.support.figures import report
from tests.support.marketing import PATH

pytestmark = pytest.mark.integration
SHANGHAI = timedelta(hours=8)
SEGMENT = {"field": "kyc_level", "op": "eq", "value": "L2"}


def client(local_platform: LocalPlatform, service: str, url_key: str = "moto") -> Any:
    return boto3.client(service, endpoint_url=str(local_platform.info[url_key]),
                        region_name=str(local_platform.info["region"]), aws_access_key_id="local",
                        aws_secret_access_key="local")


def invoker(local_platform: LocalPlatform) -> Any:
    lam = client(local_platform, "lambda", "lambda")

    def invoke(arn: str, event: dict[str, Any]) -> Any:
        reply = lam.invoke(FunctionName=arn, Payload=json.dumps(event).encode())
        assert not reply.get("FunctionError"), reply
        return json.loads(reply["Payload"].read())

    return invoke


def trigger_arn(local_platform: LocalPlatform) -> str:
    return (f"arn:aws:lambda:{local_platform.info['region']}:123456789012:function:"
            f"{local_platform.info['prefix']}-MarketingTriggerFunction:live")


def pushed(local_platform: LocalPlatform, campaign_ids: set[str]) -> list[tuple[str, str]]:
    sink = Path(str(local_platform.info["push_sink"]))
    if not sink.is_file():
        return []
    rows = [json.loads(line) for line in sink.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(r["campaign_id"], r["customer_id"]) for r in rows if r["campaign_id"] in campaign_ids]


def next_shanghai(hour: int) -> datetime:
    local = datetime.now(UTC) + SHANGHAI
    target = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    return (target + (timedelta(days=1) if target <= local else timedelta(0)) - SHANGHAI).replace(tzinfo=UTC)


def send_profiles(local_platform: LocalPlatform, profiles: dict[str, dict[str, Any]]) -> None:
    sqs = client(local_platform, "sqs")
    for customer_id, profile in profiles.items():
        sqs.send_message(QueueUrl=local_platform.queue_url("BehaviourQueue"), MessageBody=json.dumps({
            "event_id": "e-" + uuid.uuid4().hex, "customer_id": customer_id, "kind": "profile",
            "at": datetime.now(UTC).isoformat(), "profile": profile}))


def wait_for(check: Any, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def in_segment(api: Api, marketer: str, campaign_id: str, customer_id: str) -> bool:
    r = api.call("POST", f"{PATH}/{campaign_id}/dry-run", {"customer_id": customer_id}, token=marketer,
                 channel="web")
    return bool(r.status == 200 and r.body["known_customer"] and r.body["in_segment"])


def test_a_campaign_fires_on_its_schedule_and_reaches_its_segment_within_the_contact_policy(
        api: Api, marketer: str, local_platform: LocalPlatform, campaigns: Any) -> None:
    tag = uuid.uuid4().hex[:6]
    reach, opted_out, outside = f"c-in-{tag}", f"c-out-{tag}", f"c-l1-{tag}"
    # The marketer creates the campaign and schedules it (it started a minute ago: it runs).
    cid = campaigns(holdout_percent=0, segment=SEGMENT, trigger={"cron": "cron(0 10 * * ? *)"})
    send_profiles(local_platform, {reach: {"kyc_level": "L2"}, opted_out: {"kyc_level": "L2", "opted_out": True},
                                   outside: {"kyc_level": "L1"}})
    wait_for(lambda: in_segment(api, marketer, cid, reach) and in_segment(api, marketer, cid, opted_out),
             "the profiles to be ingested")
    assert not in_segment(api, marketer, cid, outside)
    groups = [str(g) for g in local_platform.info["schedule_groups"]]
    made = client(local_platform, "scheduler").get_schedule(Name=f"mkt-{cid}", GroupName=groups[0])
    assert made["ScheduleExpressionTimezone"] == "Asia/Shanghai"

    due = next_shanghai(10)
    clock = {"now": due - timedelta(minutes=1)}
    local = RuntimeSchedules(client(local_platform, "scheduler"), invoker(local_platform), groups,
                             now=lambda: clock["now"])
    assert [f for f in local.tick() if cid in f["schedule"]] == []
    clock["now"] = due + timedelta(seconds=10)
    fired = [f for f in local.tick() if f["schedule"].endswith(f"mkt-{cid}")]
    assert [f["answer"] for f in fired] == [{"ok": True, "fired": True, "audience": 2, "pushed": 1,
                                             "opted_out": 1}]
    assert pushed(local_platform, {cid}) == [(cid, reach)]
    figures = api.call("GET", f"{PATH}/{cid}/figures", token=marketer, channel="web").body
    assert (figures["firings"], figures["audience"], figures["reached"]) == (1, 2, 1), figures
    assert figures["outcomes"] == {"pushed": 1, "opted_out": 1}

    # A second campaign the same Shanghai day: the customer has had today's push.
    second = campaigns(holdout_percent=0, segment=SEGMENT, trigger={"cron": "cron(30 10 * * ? *)"})
    send_profiles(local_platform, {reach: {"kyc_level": "L2"}})  # evaluated against the new campaign too
    wait_for(lambda: in_segment(api, marketer, second, reach), "the second campaign's segment")
    local.tick()  # sees the new schedule
    clock["now"] = due + timedelta(minutes=30, seconds=10)
    fired = [f for f in local.tick() if f["schedule"].endswith(f"mkt-{second}")]
    assert [f["answer"]["capped"] for f in fired] == [1]
    assert pushed(local_platform, {cid, second}) == [(cid, reach)]


def test_racing_steps_of_eight_campaigns_push_a_customer_once(api: Api, marketer: str, campaigns: Any,
                                                              local_platform: LocalPlatform) -> None:
    customer = f"c-race-{uuid.uuid4().hex[:6]}"
    eight = [campaigns(holdout_percent=0) for _ in range(8)]
    send_profiles(local_platform, {customer: {"kyc_level": "L2"}})
    wait_for(lambda: api.call("POST", f"{PATH}/{eight[0]}/dry-run", {"customer_id": customer}, token=marketer,
                              channel="web").body["known_customer"], "the profile")
    invoke, noon = invoker(local_platform), next_shanghai(12).strftime("%Y-%m-%dT%H:%M:%SZ")
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda cid: invoke(trigger_arn(local_platform), {
            "kind": "step", "campaign_id": cid, "customer_id": customer, "step": "race",
            "scheduled_time": noon})["outcome"], eight))
    seconds = time.monotonic() - started
    assert sorted(outcomes) == ["capped"] * 7 + ["pushed"], outcomes
    assert len(pushed(local_platform, set(eight))) == 1
    report(f"marketing contact cap over HTTP: 8 campaigns' steps for one customer at once -> 1 pushed, 7 capped "
           f"({seconds:.2f} s)")


def test_a_domain_event_on_the_bus_reaches_its_customer(api: Api, marketer: str, campaigns: Any,
                                                        local_platform: LocalPlatform) -> None:
    customer = f"c-kyc-{uuid.uuid4().hex[:6]}"
    cid = campaigns(holdout_percent=0, trigger={"event": "kyc_passed"})
    send_profiles(local_platform, {customer: {"kyc_level": "L2"}})
    wait_for(lambda: api.call("POST", f"{PATH}/{cid}/dry-run", {"customer_id": customer}, token=marketer,
                              channel="web").body["known_customer"], "the profile")
    noon = next_shanghai(12).strftime("%Y-%m-%dT%H:%M:%SZ")
    bus = f"{local_platform.info['prefix']}-DomainEventBus"  # the local run's name for the template's bus
    put = client(local_platform, "events").put_events(Entries=[{
        "Source": "bank.user", "DetailType": "KycPassed", "EventBusName": bus, "Time": noon,
        "Detail": json.dumps({"customer_id": customer})}])
    assert put["FailedEntryCount"] == 0, put
    wait_for(lambda: pushed(local_platform, {cid}) == [(cid, customer)], "the push after KycPassed")
