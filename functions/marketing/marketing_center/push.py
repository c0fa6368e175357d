"""Push adapters: how a campaign's message reaches a customer's app.

- `JPushSender`: JPush (极光推送) REST API v3, `POST https://api.jpush.cn/v3/push` with HTTP Basic auth
  (AppKey:Master Secret), to the customer's alias (the app registers the customer id as its alias after login).
  A mainland vendor: SNS mobile push is not offered in the China regions, and FCM does not reach phones in
  mainland China (decision 0035). Settings (app key, master secret, production flag) come from an SSM SecureString.
- `FakePush`: keeps messages in memory and, where PUSH_SINK_FILE is set (the local run only, never the
  templates), appends them to that file, which the tests and a developer read.

`PUSH_PROVIDER` chooses: jpush (default) or fake.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from functools import cache
from typing import Any, Protocol

from bank_common import config, obs

JPUSH_URL = "https://api.jpush.cn/v3/push"


class PushRejected(RuntimeError):
    pass


class PushSender(Protocol):
    def send(self, customer_id: str, title: str, text: str, campaign_id: str) -> str: ...


class JPushSender:
    def __init__(self, settings: dict[str, Any], http: Any = None) -> None:
        self.auth = base64.b64encode(f"{settings['app_key']}:{settings['master_secret']}".encode()).decode()
        self.production = bool(settings.get("production", True))
        self._http = http

    def http(self) -> Any:
        if self._http is None:
            import urllib3

            self._http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=2.0, read=5.0), retries=False)
        return self._http

    def send(self, customer_id: str, title: str, text: str, campaign_id: str) -> str:
        body = {"platform": "all", "audience": {"alias": [customer_id]},
                "notification": {"alert": text, "android": {"alert": text, "title": title},
                                 "ios": {"alert": {"title": title, "body": text}}},
                "options": {"apns_production": self.production, "time_to_live": 86400}}
        response = self.http().request("POST", JPUSH_URL, body=json.dumps(body, ensure_ascii=False).encode(),
                                       headers={"Authorization": f"Basic {self.auth}",
                                                "Content-Type": "application/json"})
        data = json.loads(response.data or b"{}")
        if response.status != 200 or "error" in data:
            error = data.get("error") or {}
            raise PushRejected(f"{response.status} {error.get('code')}: {error.get('message')}")
        return str(data["msg_id"])


class FakePush:
    """Keeps pushes instead of sending them (local run and tests only); see the module's docstring."""

    def __init__(self, sink: str | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self._sink = sink
        self._lock = threading.Lock()

    def send(self, customer_id: str, title: str, text: str, campaign_id: str) -> str:
        record = {"customer_id": customer_id, "title": title, "text": text, "campaign_id": campaign_id,
                  "at": time.time()}
        with self._lock:
            self.sent.append(record)
            number = len(self.sent)
            if self._sink:
                os.makedirs(os.path.dirname(self._sink) or ".", exist_ok=True)
                with open(self._sink, "a", encoding="utf-8") as out:
                    out.write(json.dumps(record, ensure_ascii=False) + "\n")
        obs.log().info("fake push sent", extra={"campaign_id": campaign_id})
        return f"fake-push-{number}"


@cache
def sender() -> PushSender:
    if os.environ.get("PUSH_PROVIDER", "jpush") == "fake":
        return FakePush(os.environ.get("PUSH_SINK_FILE") or None)
    return JPushSender(json.loads(config.secret("PUSH_VENDOR_SETTINGS", "PUSH_VENDOR_SETTINGS_PARAM")))
