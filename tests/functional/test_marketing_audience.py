"""Segments on moto: behaviour and profile events arrive on the behaviour queue, are counted once per event, and
re-evaluate that customer's membership of every segmented campaign at once; the nightly sweep catches what the
date alone changes; staff see one customer's dry run with each rule's reason."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import boto3
import pytest

from tests.functional.conftest import provision_staff, pump
from tests.support.api import Api
from tests.support.marketing import MARKETER_PASSWORD, MARKETER_USER, PATH, at, campaign_body, running_campaign

SEGMENT = {"all": [{"field": "kyc_level", "op": "eq", "value": "L2"},
                   {"behaviour": "login", "days": 7, "op": "gte", "value": 2}]}


@pytest.fixture
def marketer(api: Api, runtime: Any) -> str:
    provision_staff(runtime, MARKETER_USER, MARKETER_PASSWORD, ["marketing"])
    return api.staff_login(MARKETER_USER, MARKETER_PASSWORD)


def send(aws: Any, *events: dict[str, Any]) -> None:
    sqs = boto3.client("sqs")
    for event in events:
        sqs.send_message(QueueUrl=aws.queue_urls["BehaviourQueue"], MessageBody=json.dumps(event))


def event(customer_id: str, kind: str, event_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id or "e-" + uuid.uuid4().hex, "customer_id": customer_id, "kind": kind,
            "at": at(timedelta(0)), **extra}


def members(aws: Any, campaign_id: str) -> dict[str, bool]:
    items = boto3.client("dynamodb").scan(TableName=aws["AUDIENCE_TABLE"], ConsistentRead=True)["Items"]
    return {i["pk"]["S"].removeprefix("CUST#"): i["member"]["BOOL"] for i in items
            if i["sk"]["S"] == f"MEMBER#{campaign_id}"}


def dry_run(api: Api, marketer: str, campaign_id: str, customer_id: str) -> Any:
    return api.call("POST", f"{PATH}/{campaign_id}/dry-run", {"customer_id": customer_id}, token=marketer,
                    channel="web")


def test_events_move_a_customer_into_a_segment_incrementally_and_once(api: Api, marketer: str, runtime: Any,
                                                                      aws: Any) -> None:
    cid = running_campaign(api, marketer, segment=SEGMENT)
    other = running_campaign(api, marketer, segment={"field": "channels", "op": "has", "value": "alipay"})
    profile = {"kyc_level": "L2", "risk_level": "C3", "registered_on": "2026-01-15", "channels": ["wechat"]}
    send(aws, event("c-seg-1", "profile", profile=profile), event("c-seg-1", "login", "login-1"))
    assert pump(runtime, aws.queue_urls["BehaviourQueue"], "IngestBehaviourFunction") == 2
    assert members(aws, cid) == {"c-seg-1": False} and members(aws, other) == {"c-seg-1": False}
    # The same login delivered again counts once; a second login puts the customer in.
    send(aws, event("c-seg-1", "login", "login-1"))
    pump(runtime, aws.queue_urls["BehaviourQueue"], "IngestBehaviourFunction")
    assert members(aws, cid) == {"c-seg-1": False}
    send(aws, event("c-seg-1", "login", "login-2"))
    pump(runtime, aws.queue_urls["BehaviourQueue"], "IngestBehaviourFunction")
    assert members(aws, cid) == {"c-seg-1": True}
    run = dry_run(api, marketer, cid, "c-seg-1")
    assert run.status == 200 and run.body["in_segment"] is True and run.body["known_customer"] is True
    assert run.body["reasons"] == ["✓ kyc_level eq L2 (was L2)", "✓ login in the last 7 days gte 2 (was 2)"]
    assert run.body["would_reach"] is not run.body["held_out"]
    # A malformed event is dropped (never retried forever); nothing is counted for it.
    send(aws, {"event_id": "bad", "customer_id": "c-seg-1"}, {"nonsense": True})
    assert pump(runtime, aws.queue_urls["BehaviourQueue"], "IngestBehaviourFunction") == 2


def test_the_nightly_sweep_and_the_dry_run_of_a_stranger(api: Api, marketer: str, runtime: Any, aws: Any) -> None:
    # A customer the center knew before the campaign existed: only the sweep evaluates them.
    send(aws, event("c-seg-3", "profile", profile={"kyc_level": "L2"}))
    pump(runtime, aws.queue_urls["BehaviourQueue"], "IngestBehaviourFunction")
    cid = running_campaign(api, marketer, segment={"behaviour": "login", "days": 1, "op": "eq", "value": 0})
    send(aws, event("c-seg-2", "profile", profile={"kyc_level": "L1"}))
    pump(runtime, aws.queue_urls["BehaviourQueue"], "IngestBehaviourFunction")
    assert members(aws, cid) == {"c-seg-2": True}
    sample = json.loads(open("events/marketing/sweep_segments.schedule.json").read())
    swept = runtime.invoke("SweepSegmentsFunction", sample)
    assert swept["campaigns"] >= 1 and swept["customers"] >= 2 and swept["changed"] == 1
    assert members(aws, cid) == {"c-seg-2": True, "c-seg-3": True}
    assert runtime.invoke("SweepSegmentsFunction", sample)["changed"] == 0  # nothing changed since
    stranger = dry_run(api, marketer, cid, "c-nobody")
    assert stranger.body["known_customer"] is False and stranger.body["in_segment"] is True
    draft = api.call("POST", PATH, campaign_body(), token=marketer, channel="web").body["campaign_id"]
    unsegmented = dry_run(api, marketer, draft, "c-seg-2").body
    assert (unsegmented["state"], unsegmented["would_reach"], unsegmented["reasons"]) == (
        "draft", False, ["✓ no segment: every customer"])
    assert dry_run(api, marketer, "cmp-00000000000000000000", "c-seg-2").status == 404
    assert dry_run(api, marketer, draft, "bad id!").status == 400


def test_a_malformed_segment_is_refused(api: Api, marketer: str) -> None:
    r = api.call("POST", PATH, campaign_body(segment={"field": "salary", "op": "gt", "value": 1}), token=marketer,
                 channel="web")
    assert r.status == 422 and r.code == "INVALID_CAMPAIGN"
    assert r.body["error"]["details"] == [{"field": "segment", "problem": "Unknown field 'salary'."}]
