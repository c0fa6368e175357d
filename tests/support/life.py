"""Driving the life center in tests: paying a bill, signing a biller's callback, delivering the biller queue,
running the poller (functional tests do by hand what the local run's pollers and scheduler do)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from tests.support.api import Api, Resp

ELECTRIC = "sh-electric"
TOPUP = "cm-topup"


def electric_number(last: str) -> str:
    """A customer number of the electricity biller whose last digit picks the fake biller's behaviour
    (9 refuses, 8 times out then succeeded, 7 never answers, 6 times out then failed, 5 answers late, 4 no bill)."""
    return str(uuid.uuid4().int)[:9] + last


def pay(api: Api, token: str, account: str, amount: str, number: str, *, biller: str = ELECTRIC,
        key: str | None = None) -> Resp:
    return api.call("POST", "/v1/life/payments", {"biller_id": biller, "customer_number": number,
                                                  "account_id": account, "amount": amount},
                    token=token, key=key or "bill-" + uuid.uuid4().hex)


def order(api: Api, token: str, order_no: str) -> dict[str, Any]:
    r = api.call("GET", f"/v1/life/payments/{order_no}", token=token)
    assert r.status == 200, r.body
    return dict(r.body)


def signed(secret: str, body: dict[str, Any], *, at: float | None = None) -> tuple[bytes, dict[str, str]]:
    from life_center import signing

    raw = json.dumps(body, separators=(",", ":")).encode()
    return raw, signing.headers(secret, raw, at)


def biller_secret(secrets_document: str, biller: str = ELECTRIC) -> str:
    return str(json.loads(secrets_document)[biller])


def callback(api: Api, secret: str, order_no: str, status: str, amount: str, *, biller: str = ELECTRIC,
             at: float | None = None, ref: str = "CB0001") -> Resp:
    raw, headers = signed(secret, {"order_no": order_no, "status": status, "amount": amount, "biller_ref": ref},
                          at=at)
    return api.call("POST", f"/v1/life/callbacks/{biller}", token=None, channel=None, raw=raw, headers=headers)


def wait_for(api: Api, token: str, order_no: str, statuses: tuple[str, ...], timeout: float = 90.0) -> dict[str, Any]:
    """The order once it reaches one of `statuses` (the local run's queue worker and poller move it)."""
    deadline = time.monotonic() + timeout
    while True:
        found = order(api, token, order_no)
        if found["status"] in statuses or time.monotonic() > deadline:
            return found
        time.sleep(0.5)
