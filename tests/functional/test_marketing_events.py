"""The events the marketing center listens for, from the centers that own the facts (moto; decision 0045): the
user center sends a profile snapshot on registration, risk assessment, preference change and identity
link/unlink, and KycPassed on the bank's bus once per verification; the snapshot reaches the marketing center's
copy (IngestBehaviour), an opt-out there stops a push, and KycPassed reaches the customer of a campaign it
triggers — once, however often it is delivered."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.functional.conftest import pump
from tests.support import customer as user
from tests.support.api import Api
from tests.support.identity import customer
from tests.support.marketing import running_campaign

SHANGHAI = timedelta(hours=8)
NO_FAILURES = {"batchItemFailures": []}
OPTED_IN = {"channels": {"sms": True, "app_push": True, "wechat": False, "email": False},
            "topics": {"transactions": True, "security": True, "marketing": True}}


@pytest.fixture
def bus(aws: Any) -> Any:
    """What reaches the bank's domain event bus: a rule on it (every event) to a queue this test reads."""
    events, sqs = boto3.client("events"), boto3.client("sqs")
    name = aws.naming.name("DomainEventBus")
    url = sqs.create_queue(QueueName="test-bus-capture")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="capture", EventBusName=name, EventPattern=json.dumps({"source": [{"prefix": "bank."}]}))
    events.put_targets(Rule="capture", EventBusName=name, Targets=[{"Id": "capture", "Arn": arn}])

    def read() -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages") or []:
            got += [json.loads(m["Body"]) for m in batch]
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
        return got

    return read


def behaviour(aws: Any) -> list[dict[str, Any]]:
    """The messages waiting on the BehaviourQueue (taken off it)."""
    sqs, got = boto3.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=aws.queue_urls["BehaviourQueue"],
                                       MaxNumberOfMessages=10).get("Messages") or []:
        got += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=aws.queue_urls["BehaviourQueue"], Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return got


def profile_copy(aws: Any, customer_id: str) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(TableName=aws["AUDIENCE_TABLE"], ConsistentRead=True, Key={
        "pk": {"S": f"CUST#{customer_id}"}, "sk": {"S": "PROFILE"}}).get("Item")
    return json.loads(item["profile"]["S"]) if item else {}


def signed_up(api: Api, mobile: str) -> tuple[str, str]:
    token = customer(api, mobile)["access_token"]
    return token, str(api.call("GET", "/v1/user/profile", token=token).body["customer_id"])


def at_noon(event: dict[str, Any]) -> dict[str, Any]:
    """The event as delivered at the next 12:00 Shanghai (outside the contact policy's quiet hours)."""
    local = datetime.now(UTC) + SHANGHAI
    noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
    noon += timedelta(days=1) if noon <= local else timedelta(0)
    return {**event, "time": (noon - SHANGHAI).strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_every_profile_change_sends_the_whole_snapshot(api: Api, aws: Any, new_mobile: Any) -> None:
    token, customer_id = signed_up(api, new_mobile())
    registered = [m for m in behaviour(aws) if m["customer_id"] == customer_id]
    assert len(registered) == 1 and registered[0]["kind"] == "profile", registered
    assert registered[0]["profile"] == {"kyc_level": "L1", "registered_on": datetime.now(UTC).date().isoformat(),
                                        "channels": [], "opted_out": True}  # marketing is off by default
    questionnaire = api.call("GET", "/v1/user/risk-questionnaire", token=token).body
    answers = {q["question_id"]: "e" for q in questionnaire["questions"]}
    assert api.call("POST", "/v1/user/risk-assessments", {"version": questionnaire["version"], "answers": answers},
                    token=token).status == 201
    assert api.call("PUT", "/v1/user/preferences/notifications", OPTED_IN, token=token).status == 200
    linked = api.call("POST", "/v1/user/identities", {"provider": "wechat_mp", "code": "wx.ev-person"}, token=token)
    assert linked.status == 201, linked.body
    assert api.call("DELETE", f"/v1/user/identities/{linked.body['identity_id']}", token=token).status == 204
    snapshots = [m["profile"] for m in behaviour(aws)]
    assert [(s["risk_level"], s["opted_out"], s["channels"]) for s in snapshots] == [
        ("C5", True, []), ("C5", False, []), ("C5", False, ["wechat"]), ("C5", False, [])]
    assert len({m["event_id"] for m in [*registered]}) == 1
    # Refused changes send nothing; nor does another customer's unlink attempt.
    assert api.call("POST", "/v1/user/risk-assessments", {"version": "2001-01", "answers": answers},
                    token=token).status == 422
    other, _ = signed_up(api, new_mobile())
    behaviour(aws)
    assert api.call("DELETE", f"/v1/user/identities/{linked.body['identity_id']}", token=other).status == 404
    assert behaviour(aws) == []


def test_kyc_passed_is_put_once_and_reaches_the_customer_of_a_kyc_campaign(
        api: Api, aws: Any, runtime: Any, marketer: str, pushes: Any, bus: Any, new_mobile: Any) -> None:
    campaign = running_campaign(api, marketer, holdout_percent=0, channels=["app"], trigger={"event": "kyc_passed"},
                                segment={"field": "kyc_level", "op": "eq", "value": "L2"})
    token, customer_id = signed_up(api, new_mobile())
    assert api.call("PUT", "/v1/user/preferences/notifications", OPTED_IN, token=token).status == 200
    number = user.id_number(birth="19900307", sequence="517")
    r, kyc_id = user.kyc_attempt(api, token, user.card(number=number), user.selfie())
    assert r.status == 200 and r.body["kyc_level"] == "L2", r.body
    # A retried verification is refused and emits nothing more.
    assert api.call("POST", f"/v1/user/kyc/{kyc_id}/verify", token=token).status == 409
    put = bus()
    assert [(e["source"], e["detail-type"], e["detail"]["customer_id"], e["detail"]["event_id"]) for e in put] == [
        ("bank.user", "KycPassed", customer_id, f"kyc-passed-{customer_id}")]
    assert put[0]["detail"]["profile"]["kyc_level"] == "L2" and number not in json.dumps(put)
    # Delivered before the queue brings the snapshot to the copy: the segment reads the profile the event carries.
    assert profile_copy(aws, customer_id) == {}
    event = at_noon(put[0])
    assert runtime.invoke("MarketingTriggerFunction", event)["outcomes"] == {campaign: "pushed"}
    pump(runtime, aws.queue_urls["BehaviourQueue"], "IngestBehaviourFunction")
    copy = profile_copy(aws, customer_id)
    assert (copy["kyc_level"], copy["opted_out"], copy["birthday_month"], copy["birthday_day"]) == ("L2", False, 3, 7)
    assert number not in json.dumps(copy)  # levels and dates only
    # The same fact put again (a new EventBridge id, the same event_id) fires nothing more.
    again = runtime.invoke("MarketingTriggerFunction", {**event, "id": "another-put"})
    assert again["outcomes"] == {campaign: "already_fired"}
    assert [p["customer_id"] for p in pushes()] == [customer_id]


def test_an_opt_out_reaches_the_profile_copy_and_stops_the_push(
        api: Api, aws: Any, runtime: Any, marketer: str, pushes: Any, new_mobile: Any) -> None:
    campaign = running_campaign(api, marketer, holdout_percent=0, channels=["app"], trigger={"event": "kyc_passed"})
    token, customer_id = signed_up(api, new_mobile())
    assert api.call("PUT", "/v1/user/preferences/notifications", OPTED_IN, token=token).status == 200
    no_push = {"channels": {**OPTED_IN["channels"], "app_push": False}, "topics": OPTED_IN["topics"]}
    assert api.call("PUT", "/v1/user/preferences/notifications", no_push, token=token).status == 200
    pump(runtime, aws.queue_urls["BehaviourQueue"], "IngestBehaviourFunction")
    assert profile_copy(aws, customer_id)["opted_out"] is True
    sample = json.loads(open("events/marketing/trigger.eventbridge.json").read())
    event = at_noon({**sample, "id": "evt-opt-out", "detail": {"customer_id": customer_id}})
    result = runtime.invoke("MarketingTriggerFunction", event)
    assert result["outcomes"] == {campaign: "opted_out"}, result
    assert pushes() == []


def test_a_send_that_fails_never_fails_the_change(api: Api, aws: Any, runtime: Any, new_mobile: Any,
                                                  caplog: Any) -> None:
    from botocore.stub import Stubber

    from bank_common import aws as clients

    token, customer_id = signed_up(api, new_mobile())
    behaviour(aws)
    queue_down = Stubber(clients.client("sqs"))  # the real call (as granted), answered by an outage
    queue_down.add_client_error("send_message", "ServiceUnavailable", http_status_code=503)
    with caplog.at_level(logging.ERROR), queue_down:
        r = api.call("PUT", "/v1/user/preferences/notifications", OPTED_IN, token=token)
    assert r.status == 200 and r.body["topics"]["marketing"] is True, r.body
    assert any(getattr(rec, "kind", "") == "profile" for rec in caplog.records if rec.getMessage() == "event not sent")
    assert customer_id not in caplog.text


# --- the account center: FirstDeposit from the accounts table's stream -------------------------------------------

def account_changes(aws: Any) -> dict[str, Any]:
    """Every record of the accounts table's stream so far (moto), as Lambda hands them to a function."""
    from infra.local import stream_record

    streams, table = boto3.client("dynamodbstreams"), aws.naming.name("AccountsTable")
    arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    records = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records += [stream_record(r, arn) for r in streams.get_records(ShardIterator=iterator)["Records"]]
    return {"Records": records}


def test_first_deposit_is_put_once_per_customer(api: Api, aws: Any, runtime: Any, teller: str, bus: Any,
                                                new_mobile: Any) -> None:
    from tests.support.api import subject_of

    token, account = api.customer_with_account(new_mobile())
    customer_id = subject_of(token)
    assert runtime.invoke("FirstDepositFunction", account_changes(aws)) == NO_FAILURES
    assert bus() == []  # opened, not credited
    key = "first-" + customer_id[-8:]
    first = api.deposit(teller, account, "5.00", key=key)
    assert first.status == 201 and api.deposit(teller, account, "5.00", key=key).body == first.body  # a retry
    assert runtime.invoke("FirstDepositFunction", account_changes(aws)) == NO_FAILURES
    put = bus()
    assert [(e["source"], e["detail-type"], e["detail"]["customer_id"], e["detail"]["event_id"]) for e in put] == [
        ("bank.account", "FirstDeposit", customer_id, f"first-deposit-{customer_id}")]
    assert account not in json.dumps(put)  # the customer, not the account number
    # More deposits, and the whole stream delivered again: nothing more.
    assert api.deposit(teller, account, "7.00").status == 201
    assert runtime.invoke("FirstDepositFunction", account_changes(aws)) == NO_FAILURES
    assert bus() == []


def test_first_deposit_not_put_is_retried_by_the_stream(api: Api, aws: Any, runtime: Any, teller: str, bus: Any,
                                                        new_mobile: Any) -> None:
    from botocore.stub import Stubber

    from account_center import first_deposit
    from bank_common import aws as clients

    _, account = api.customer_with_account(new_mobile())
    assert api.deposit(teller, account, "5.00").status == 201
    changes = account_changes(aws)
    bus_down = Stubber(clients.client("events"))  # the real PutEvents (as granted), answered by an outage
    bus_down.add_client_error("put_events", "InternalException", http_status_code=500)
    with bus_down:
        failed = runtime.invoke("FirstDepositFunction", changes)["batchItemFailures"]
    first_credit = next(r for r in changes["Records"] if first_deposit.first_credit_of(r))
    assert failed == [{"itemIdentifier": first_credit["dynamodb"]["SequenceNumber"]}]
    assert runtime.invoke("FirstDepositFunction", changes) == NO_FAILURES
    assert [e["detail-type"] for e in bus()] == ["FirstDeposit"]


# --- Birthday: the marketing center's nightly sweep, from its copy of the profile ---------------------------------

def test_the_nightly_sweep_puts_birthday_once_a_year_and_it_reaches_the_customer(
        api: Api, aws: Any, runtime: Any, marketer: str, pushes: Any, bus: Any) -> None:
    from tests.functional.test_marketing_audience import event, send

    sample = json.loads(open("events/marketing/sweep_segments.schedule.json").read())
    today = (datetime.now(UTC) + SHANGHAI).date()
    tomorrow = today + timedelta(days=1)
    send(aws, event("c-bday", "profile", profile={"kyc_level": "L2", "opted_out": False, "birthday_month": today.month,
                                                  "birthday_day": today.day}),
         event("c-later", "profile", profile={"kyc_level": "L2", "opted_out": False,
                                              "birthday_month": tomorrow.month, "birthday_day": tomorrow.day}))
    pump(runtime, aws.queue_urls["BehaviourQueue"], "IngestBehaviourFunction")
    assert runtime.invoke("SweepSegmentsFunction", sample)["birthdays"] == 0  # no campaign listens: nothing put
    assert bus() == []
    campaign = running_campaign(api, marketer, holdout_percent=0, channels=["app"], trigger={"event": "birthday"})
    assert runtime.invoke("SweepSegmentsFunction", sample)["birthdays"] == 1
    assert runtime.invoke("SweepSegmentsFunction", sample)["birthdays"] == 1  # a second run puts the same fact
    put = bus()
    assert {(e["source"], e["detail-type"], e["detail"]["event_id"]) for e in put} == {
        ("bank.marketing", "Birthday", f"birthday-c-bday-{today.year}")} and len(put) == 2
    outcomes = [runtime.invoke("MarketingTriggerFunction", at_noon(e))["outcomes"] for e in put]
    assert outcomes == [{campaign: "pushed"}, {campaign: "already_fired"}]
    assert [p["customer_id"] for p in pushes()] == ["c-bday"]
