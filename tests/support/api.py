"""One driver for the platform's API, through the gateway emulation in this process or over HTTP, so the
same journeys run as functional tests (moto) and as integration/e2e tests (the local run on DynamoDB Local)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

PASSWORD = "Passw0rd-demo"


@dataclass
class Resp:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def code(self) -> str | None:
        return (self.body or {}).get("error", {}).get("code") if isinstance(self.body, dict) else None


class Api:
    def __init__(self, gateway: Any = None, base_url: str | None = None, session: Any = None) -> None:
        self._gateway, self._base, self._session = gateway, base_url, session

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None, channel: str | None = "app",
             key: str | None = None, headers: dict[str, str] | None = None, raw: str | bytes | None = None) -> Resp:
        h = {"Content-Type": "application/json"}
        if channel is not None:
            h["X-Channel"] = channel
        if token:
            h["Authorization"] = f"Bearer {token}"
        if key:
            h["Idempotency-Key"] = key
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        if self._gateway is not None:
            payload = data.encode() if isinstance(data, str) else (data or b"")
            r = self._gateway.handle(method, path, list(h.items()), payload)
            status, text, rh = r.status, r.body, {k.lower(): v for k, v in r.headers}
        else:
            import requests

            r = (self._session or requests).request(method, self._base + path, headers=h, data=data, timeout=30)
            status, text, rh = r.status_code, r.content, {k.lower(): v for k, v in r.headers.items()}
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        return Resp(status, parsed, rh)

    # --- journeys ---------------------------------------------------------------------------------
    def register(self, mobile: str, password: str = PASSWORD, channel: str = "app") -> str:
        r = self.call("POST", "/v1/user/customers", {"mobile": mobile, "password": password}, channel=channel)
        assert r.status == 201, r.body
        return str(r.body["customer_id"])

    def login(self, mobile: str, password: str = PASSWORD, channel: str = "app") -> str:
        r = self.call("POST", "/v1/auth/login", {"mobile": mobile, "password": password}, channel=channel,
                      headers={"X-Device-Id": "dev-" + mobile[-4:]})
        assert r.status == 200, r.body
        return str(r.body["access_token"])

    def staff_login(self, username: str, password: str) -> str:
        r = self.call("POST", "/v1/auth/staff/login", {"username": username, "password": password}, channel="web")
        assert r.status == 200, r.body
        return str(r.body["access_token"])

    def open_account(self, token: str, account_type: str = "II") -> str:
        r = self.call("POST", "/v1/account/accounts", {"type": account_type}, token=token)
        assert r.status == 201, r.body
        return str(r.body["account_id"])

    def deposit(self, staff_token: str, account_id: str, amount: str, key: str | None = None) -> Resp:
        return self.call("POST", "/v1/ops/deposits", {"account_id": account_id, "amount": amount}, token=staff_token,
                         channel="web", key=key or new_key())

    def transfer(self, token: str, src: str, dst: str, amount: str, key: str | None = None, memo: str = "",
                 channel: str = "app") -> Resp:
        return self.call("POST", "/v1/account/transfers", {"from_account": src, "to_account": dst, "amount": amount,
                                                            "memo": memo}, token=token, key=key or new_key(),
                         channel=channel)

    def balance(self, token: str, account_id: str) -> str:
        r = self.call("GET", f"/v1/account/accounts/{account_id}", token=token)
        assert r.status == 200, r.body
        return str(r.body["balance"])

    def customer_with_account(self, mobile: str, account_type: str = "II") -> tuple[str, str]:
        self.register(mobile)
        token = self.login(mobile)
        return token, self.open_account(token, account_type)


def new_key() -> str:
    return "k-" + uuid.uuid4().hex


def check_first_slice(api: Api, teller: str, mobiles: Any) -> None:
    """The first vertical slice, asserted the same way on moto (functional) and over HTTP (integration)."""
    alice, a = api.customer_with_account(mobiles())
    bob, b = api.customer_with_account(mobiles())
    assert api.deposit(teller, a, "1000.00").status == 201
    r = api.transfer(alice, a, b, "125.50", memo="rent")
    assert r.status == 201, r.body
    assert r.body["status"] == "completed" and r.body["amount"] == "125.50" and r.body["balance_after"] == "874.50"
    assert api.balance(alice, a) == "874.50"
    assert api.balance(bob, b) == "125.50"
    statement = api.call("GET", f"/v1/account/accounts/{a}/statement", token=alice)
    assert statement.status == 200, statement.body
    assert [(e["direction"], e["amount"], e["balance_after"]) for e in statement.body["items"]] == [
        ("debit", "125.50", "874.50"), ("credit", "1000.00", "1000.00")]
    assert statement.body["items"][0]["transfer_id"] == r.body["transfer_id"]
    # the payee's statement shows the same transfer as a credit
    credit = api.call("GET", f"/v1/account/accounts/{b}/statement", token=bob).body["items"]
    assert [(e["direction"], e["transfer_id"]) for e in credit] == [("credit", r.body["transfer_id"])]


def check_replay(api: Api, teller: str, mobiles: Any) -> None:
    """Same Idempotency-Key + same body replays the first response; another body is a 422; money moved once."""
    alice, a = api.customer_with_account(mobiles())
    _, b = api.customer_with_account(mobiles())
    assert api.deposit(teller, a, "100.00").status == 201
    key = new_key()
    first = api.transfer(alice, a, b, "10.00", key=key)
    again = api.transfer(alice, a, b, "10.00", key=key)
    assert first.status == again.status == 201 and first.body == again.body
    other = api.transfer(alice, a, b, "11.00", key=key)
    assert other.status == 422 and other.code == "IDEMPOTENCY_KEY_REUSED"
    assert api.balance(alice, a) == "90.00"
    # A retry replays even when the world has moved on: the balance no longer covers it, and a reused
    # key whose new body fails a business rule is still a 422, not that rule's error.
    drain_key = new_key()
    drained = api.transfer(alice, a, b, "90.00", key=drain_key)
    assert drained.status == 201, drained.body
    retried = api.transfer(alice, a, b, "90.00", key=drain_key)
    assert retried.status == 201 and retried.body == drained.body
    reused = api.transfer(alice, a, b, "500.00", key=drain_key)
    assert reused.status == 422 and reused.code == "IDEMPOTENCY_KEY_REUSED"
    assert api.balance(alice, a) == "0.00"
