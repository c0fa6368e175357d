"""Notifications end to end on moto: registration queues a welcome message; the Notify function sends it as
an SMS through the real SNS adapter (not the fake), with the number in E.164 form; a failing message is
reported back to SQS alone."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.support.api import Api


@pytest.fixture
def real_sms(runtime: Any) -> Any:
    """The Notify function on the real SNS adapter (the others keep the fake, which the driver reads codes from)."""
    from bank_common import sms

    fake = sms.gateway()
    runtime.envs["NotifyFunction"]["SMS_GATEWAY"] = "sns"
    sms.gateway.cache_clear()
    real = sms.SnsSmsGateway()
    import bank_common.sms as module

    original = module.gateway
    module.gateway = lambda: real if __import__("os").environ.get("SMS_GATEWAY") == "sns" else fake  # type: ignore
    yield
    module.gateway = original


def queued(aws: Any) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=aws.queue_urls["NotificationQueue"], MaxNumberOfMessages=10)
    return got.get("Messages") or []


def as_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": [{"messageId": m["MessageId"], "body": m["Body"], "eventSource": "aws:sqs"}
                        for m in messages]}


def test_welcome_sms_goes_out_through_sns(api: Api, aws: Any, runtime: Any, new_mobile: Any, real_sms: Any) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    mobile = new_mobile()
    api.register(mobile)
    messages = queued(aws)
    assert [json.loads(m["Body"])["template"] for m in messages] == ["welcome"]
    assert runtime.invoke("NotifyFunction", as_event(messages)) == {"batchItemFailures": []}
    sent = list(sns_backends[DEFAULT_ACCOUNT_ID]["ap-east-1"].sms_messages.values())
    assert [(number, "Welcome" in text) for number, text in sent] == [(f"+86{mobile}", True)]


def test_a_bad_message_fails_alone(api: Api, aws: Any, runtime: Any, new_mobile: Any, real_sms: Any) -> None:
    api.register(new_mobile())
    good = queued(aws)
    bad = {"MessageId": "bad-1", "Body": json.dumps({"customer_id": "c1", "template": "no-such-template"})}
    result = runtime.invoke("NotifyFunction", as_event([bad, *good]))
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}


def test_codes_go_out_through_sns_from_the_otp_sender(api: Api, aws: Any, runtime: Any, new_mobile: Any) -> None:
    """The OTP sender on the real SNS adapter (moto): the code is texted once, the outbox item is marked."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    from bank_common import sms
    from tests.functional.conftest import pump

    mobile = new_mobile()
    assert api.call("POST", "/v1/auth/otp", {"purpose": "register", "mobile": mobile}).status == 202
    runtime.envs["OtpSenderFunction"]["SMS_GATEWAY"] = "sns"
    sms.gateway.cache_clear()
    try:
        assert pump(runtime, aws.queue_urls["OtpQueue"], "OtpSenderFunction") == 1
    finally:
        runtime.envs["OtpSenderFunction"]["SMS_GATEWAY"] = "fake"
        sms.gateway.cache_clear()
    sent = [(number, text) for number, text in sns_backends[DEFAULT_ACCOUNT_ID]["ap-east-1"].sms_messages.values()]
    assert [number for number, _ in sent] == [f"+86{mobile}"] and "验证码" in sent[0][1]
