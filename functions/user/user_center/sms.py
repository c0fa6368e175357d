"""SMS gateway adapters: the real one over Amazon SNS, and a fake for the local run and tests."""

from __future__ import annotations

import os
from functools import cache
from typing import Any, Protocol

from bank_common import aws, obs, pii


class SmsGateway(Protocol):
    def send(self, mobile: str, text: str) -> str:
        """Send one message; returns the gateway's message id."""


class SnsSmsGateway:
    """Amazon SNS direct-to-phone SMS (transactional, with the bank's sender id)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client or aws.client("sns")

    def send(self, mobile: str, text: str) -> str:
        response = self._client.publish(
            PhoneNumber=f"+86{mobile}", Message=text,
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
        )
        return str(response["MessageId"])


class FakeSmsGateway:
    """Keeps messages in memory instead of sending them (local run and tests only)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, mobile: str, text: str) -> str:
        self.sent.append((mobile, text))
        obs.log().info("fake sms sent", extra={"mobile": pii.mask_text(mobile)})
        return f"fake-{len(self.sent)}"


@cache
def gateway() -> SmsGateway:
    return FakeSmsGateway() if os.environ.get("SMS_GATEWAY", "sns") == "fake" else SnsSmsGateway()
