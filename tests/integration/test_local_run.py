"""The local run over HTTP: the money slice on DynamoDB Local, the API description, the emulated
authorizer, the SQS poller, and the local scheduler's time arithmetic."""

from __future__ import annotations

import shlex
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests

from tests.support.api import Api, check_first_slice, check_replay


def new_mobile() -> str:
    return "139" + str(uuid.uuid4().int)[:8]


def test_slice_over_http(api: Api, teller: str) -> None:
    check_first_slice(api, teller, new_mobile)


def test_idempotent_replay_and_other_body(api: Api, teller: str) -> None:
    check_replay(api, teller, new_mobile)


def test_openapi_and_docs(api: Api, local_platform) -> None:
    from infra import template

    r = api.call("GET", "/v1/openapi.json", channel=None)
    assert r.status == 200 and r.headers["content-type"].startswith("application/json")
    doc = r.body
    assert doc["openapi"].startswith("3.")
    operations = [r for r in template.api_routes() if r.function.center != "apidocs"]  # the doc's own routes aside
    assert len(operations) >= 8
    for route in operations:
        assert route.method.lower() in doc["paths"].get(route.path, {}), f"{route.method} {route.path} missing"
    docs = api.call("GET", "/v1/docs", channel=None)
    assert docs.status == 200 and docs.headers["content-type"].startswith("text/html")
    assert "<html" in str(docs.body).lower()


def test_the_banners_staff_login_works_as_printed(local_platform) -> None:
    """The staff login the banner prints is what a developer pastes first: sent as printed (URL, headers,
    body), it logs the teller in."""
    line = next(line for line in local_platform.lines if "curl -s -XPOST" in line and "/staff/login" in line)
    words = shlex.split(line.strip())
    headers = dict(words[i + 1].split(": ", 1) for i, word in enumerate(words) if word == "-H")
    body = words[words.index("-d") + 1].encode()
    url = next(word for word in words if word.startswith("http"))
    reply = requests.post(url, data=body, headers=headers, timeout=30)  # only what the banner sends
    assert reply.status_code == 200 and reply.json()["access_token"], reply.text


def test_unauthenticated_request_is_401_json(api: Api) -> None:
    r = api.call("GET", "/v1/account/accounts")
    assert r.status == 401 and r.headers["content-type"].startswith("application/json")
    assert r.code == "UNAUTHORIZED" and r.body["error"]["request_id"]
    forged = api.call("GET", "/v1/account/accounts", token="not-a-token")
    assert forged.status == 401 and forged.code == "UNAUTHORIZED"


def test_welcome_notification_is_consumed_by_the_sqs_poller(api: Api, local_platform) -> None:
    import boto3

    sqs = boto3.client("sqs", endpoint_url=local_platform.moto_url, region_name=local_platform.info["region"],
                       aws_access_key_id="local", aws_secret_access_key="local")
    queue = local_platform.queue_url("NotificationQueue")
    dlq = local_platform.queue_url("NotificationDeadLetterQueue")
    before = local_platform.count("-> NotifyFunction: processed")
    api.register(new_mobile())

    def pending(url: str) -> int:
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if local_platform.count("-> NotifyFunction: processed") > before and pending(queue) == 0:
            break
        time.sleep(0.2)
    # The poller logged a processed batch (its handler sent the fake SMS), the message was deleted,
    # and nothing was dead-lettered.
    assert local_platform.count("-> NotifyFunction: processed") > before, local_platform.output()
    assert pending(queue) == 0
    assert pending(dlq) == 0
    assert local_platform.count("NotifyFunction: processed 0, failed") == 0


def test_scheduler_time_arithmetic() -> None:
    from infra.schedules import UnsupportedSchedule, next_fire

    at = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai
    nxt = next_fire("cron(30 0 * * ? *)", "Asia/Shanghai", at)
    assert nxt.astimezone(UTC) == datetime(2026, 3, 1, 16, 30, tzinfo=UTC)  # 00:30 next day
    assert next_fire("cron(30 9 * * ? *)", "Asia/Shanghai", at).astimezone(UTC) == \
        datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    assert next_fire("rate(5 minutes)", None, at) == datetime(2026, 3, 1, 0, 5, tzinfo=UTC)
    assert next_fire("rate(1 hour)", None, at) == datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    # The full grammar (weekdays, at(), days) is tested in tests/unit/test_schedules.py; these are not expressions.
    for bad in ("cron(0 12 * * * *)", "at(2026-13-01T00:00:00)", "rate(1 week)", "cron(61 0 * * ? *)"):
        with pytest.raises(UnsupportedSchedule):
            next_fire(bad, "Asia/Shanghai", at)
