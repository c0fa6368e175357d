"""SMS gateway adapters, shared by the centers that text customers (one-time passwords, notifications).

- `SnsSmsGateway`: Amazon SNS direct-to-phone SMS, for deployments in global regions (SNS offers no SMS in
  the China regions).
- `TencentSmsGateway`: Tencent Cloud SMS `SendSms` (API 2021-01-11), the mainland gateway. Mainland carriers
  only deliver pre-approved templates with parameters, so a message is a template name and its parameters;
  the vendor template ids, the SDK app id and the signature come from configuration (an SSM SecureString).
- `FakeSmsGateway`: keeps messages in memory and, where SMS_SINK_FILE is set (the local run only, never the
  templates), appends them to that file, which the local gateway serves at GET /_local/sms/{mobile} so a
  developer (and the tests) can read the codes.

`SMS_GATEWAY` chooses: sns (default), tencent or fake.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from bank_common import aws, config, obs, pii

TEXTS = {
    "otp": "【农商银行】验证码{code}，{minutes}分钟内有效，用于{purpose}。请勿告诉他人。",
    "welcome": "【农商银行】Welcome! Your mobile banking registration is complete.",
}
PURPOSES = {"register": "注册", "login_device": "新设备登录", "password_reset": "重置密码", "step_up": "交易验证"}


@dataclass(frozen=True)
class SmsMessage:
    template: str  # a key of TEXTS (and of the vendor's template ids)
    params: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, template: str, **params: str) -> SmsMessage:
        return cls(template, tuple(params.items()))

    def text(self) -> str:
        values = dict(self.params)
        if "purpose" in values:
            values["purpose"] = PURPOSES.get(values["purpose"], values["purpose"])
        return TEXTS[self.template].format(**values)


class SmsGateway(Protocol):
    def send(self, mobile: str, message: SmsMessage) -> str:
        """Send one message to an 11-digit mainland mobile; returns the gateway's message id."""


class SnsSmsGateway:
    """Amazon SNS direct-to-phone SMS (transactional, with the bank's sender id)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client or aws.client("sns")

    def send(self, mobile: str, message: SmsMessage) -> str:
        response = self._client.publish(
            PhoneNumber=f"+86{mobile}", Message=message.text(),
            MessageAttributes={"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}},
        )
        return str(response["MessageId"])


class SmsRejected(Exception):
    """The gateway refused this message (not a transport failure): retrying the same message will not help."""


class TencentSmsGateway:
    """Tencent Cloud SMS SendSms. Configuration: {"secret_id", "secret_key", "sdk_app_id", "sign_name",
    "templates": {"otp": "<id>", ...}, "region"?}."""

    def __init__(self, settings: dict[str, Any], client: Any = None) -> None:
        from bank_common import tencentcloud

        self.settings = settings
        self._client = client or tencentcloud.Client(
            tencentcloud.Credentials(settings["secret_id"], settings["secret_key"]), "sms", "2021-01-11",
            settings.get("region", "ap-guangzhou"))

    def send(self, mobile: str, message: SmsMessage) -> str:
        response = self._client.call("SendSms", {
            "PhoneNumberSet": [f"+86{mobile}"], "SmsSdkAppId": self.settings["sdk_app_id"],
            "SignName": self.settings["sign_name"], "TemplateId": self.settings["templates"][message.template],
            "TemplateParamSet": [PURPOSES.get(value, value) if name == "purpose" else value
                                 for name, value in message.params],
        })
        status = (response.get("SendStatusSet") or [{}])[0]
        if status.get("Code") != "Ok":
            raise SmsRejected(f"{status.get('Code')}: {status.get('Message')}")
        return str(status.get("SerialNo") or response.get("RequestId"))


class FakeSmsGateway:
    """Keeps messages instead of sending them (local run and tests only); see the module's docstring."""

    def __init__(self, sink: str | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self._sink = sink
        self._lock = threading.Lock()

    def send(self, mobile: str, message: SmsMessage) -> str:
        text = message.text()
        with self._lock:
            self.sent.append((mobile, text))
            number = len(self.sent)
            if self._sink:
                os.makedirs(os.path.dirname(self._sink) or ".", exist_ok=True)
                with open(self._sink, "a", encoding="utf-8") as out:
                    out.write(json.dumps({"mobile": mobile, "text": text, "template": message.template,
                                          "at": time.time()}, ensure_ascii=False) + "\n")
        obs.log().info("fake sms sent", extra={"mobile": pii.mask_text(mobile), "template": message.template})
        return f"fake-{number}"

    def messages_to(self, mobile: str) -> list[str]:
        with self._lock:
            return [text for to, text in self.sent if to == mobile]


@cache
def gateway() -> SmsGateway:
    kind = os.environ.get("SMS_GATEWAY", "sns")
    if kind == "fake":
        return FakeSmsGateway(os.environ.get("SMS_SINK_FILE") or None)
    if kind == "tencent":
        return TencentSmsGateway(json.loads(config.secret("SMS_VENDOR_SETTINGS", "SMS_VENDOR_SETTINGS_PARAM")))
    return SnsSmsGateway()
