"""One driver for the platform's API, through the gateway emulation in this process or over HTTP, so the
same journeys run as functional tests (moto) and as integration/e2e tests (the local run on DynamoDB Local).

Every call carries the channel's API key (x-api-key, its usage plan), unless the caller sends its own.
Identity as a channel does it: registration asks for a texted code first (POST /v1/auth/otp) and accepts the
current agreements; a login from a device not bound yet gets DEVICE_VERIFICATION_REQUIRED and finishes with
the texted code (POST /v1/auth/login/device). The codes are read from the fake SMS gateway: in process
(functional tests: the OTP queue is pumped into the SMS sender function first) or from the local run's SMS
sink (GET /_local/sms/{mobile}). Every call with a token also sends the X-Device-Id the token is bound to
(read from its `dev` claim), unless the caller sends one itself.
"""

from __future__ import annotations

import base64
import json
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PASSWORD = "Passw0rd-demo"
CODE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")


def token_claims(token: str) -> dict[str, Any]:
    """A JWT's claims, unverified (the driver only needs to know which device a token is bound to)."""
    try:
        payload = token.split(".")[1]
        return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))
    except (IndexError, ValueError):
        return {}


def device_of(mobile: str) -> str:
    """The device fingerprint the driver uses for a customer (one phone per customer)."""
    return "dev-" + mobile[-4:]


OTHER_BANK = "102100099996"  # a CNAPS participant code: bindings and outbound transfers to "another bank"
EACCOUNT_TITLE = "E-account service agreement (tests)"
EACCOUNT_TEXT = "The rights and duties of the bank and the customer for Type II and III e-accounts (test copy)."


def luhn_complete(body: str) -> str:
    """`body` with its Luhn check digit appended (a card number the bank's checks accept)."""
    for check in "0123456789":
        digits = [int(d) for d in body + check]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(reversed(digits)))
        if total % 10 == 0:
            return body + check
    raise AssertionError("unreachable")


def card(outcome: str = "verified") -> str:
    """A card number at another bank whose fake verification (and fake clearing) gives `outcome`: verified /
    settled (any digit but 0 and 9 second to last), mismatch / returned (0), unavailable / late (9)."""
    marker = {"verified": "5", "settled": "5", "mismatch": "0", "returned": "0", "unavailable": "9",
              "late": "9"}[outcome]
    return luhn_complete("62220" + "".join(random.choice("0123456789") for _ in range(12)) + marker)


def binding(card_number: str | None = None, mobile: str = "13912345678") -> dict[str, str]:
    return {"card_number": card_number or card(), "bank_code": OTHER_BANK, "name": "测试客户",
            "id_number": "11010519491231002X", "mobile": mobile}


def subject_of(token: str) -> str:
    """The subject of one of our access tokens (read, not verified: the test's own token)."""
    return str(token_claims(token)["sub"])


@dataclass
class Resp:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def code(self) -> str | None:
        return (self.body or {}).get("error", {}).get("code") if isinstance(self.body, dict) else None


class Api:
    """`kyc(customer_id, level)` sets a customer's verification level straight in the user center's table (money
    tests use it instead of the KYC routes; the fixtures give it)."""

    def __init__(self, gateway: Any = None, base_url: str | None = None, session: Any = None,
                 sms_reader: Callable[[str], list[str]] | None = None,
                 kyc: Callable[[str, str], None] | None = None) -> None:
        self._gateway, self._base, self._session = gateway, base_url, session
        self._sms_reader = sms_reader  # mobile → texts sent to it, oldest first (functional tests)
        self._agreements: dict[str, str] | None = None
        self._api_keys: dict[str, str] | None = None
        self.kyc = kyc

    def api_keys(self) -> dict[str, str]:
        """channel → its API key: the gateway emulation's, or the local run's (GET /_local/api-keys)."""
        if self._api_keys is None:
            if self._gateway is not None:
                self._api_keys = dict(self._gateway.api_keys)
            else:
                import requests

                self._api_keys = dict((self._session or requests).get(f"{self._base}/_local/api-keys",
                                                                      timeout=30).json())
        return self._api_keys

    def call(self, method: str, path: str, body: Any = None, *, token: str | None = None, channel: str | None = "app",
             key: str | None = None, headers: dict[str, str] | None = None, raw: str | bytes | None = None) -> Resp:
        h = {"Content-Type": "application/json"}
        if channel is not None:
            h["X-Channel"] = channel
        # As a channel's app: its usage plan's key (an app that sends a bad X-Channel still has its own key).
        keys = self.api_keys()
        h["x-api-key"] = keys.get(channel or "app") or keys["app"]
        if token:
            h["Authorization"] = f"Bearer {token}"
            dev = token_claims(token).get("dev")
            if dev and not any(k.lower() == "x-device-id" for k in (headers or {})):
                h["X-Device-Id"] = str(dev)
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

    # --- texted codes -------------------------------------------------------------------------------
    def texts(self, mobile: str) -> list[str]:
        """Every SMS the fake gateway sent to this number, oldest first."""
        if self._sms_reader is not None:
            return self._sms_reader(mobile)
        import requests

        r = (self._session or requests).get(f"{self._base}/_local/sms/{mobile}", timeout=30)
        return [m["text"] for m in reversed(r.json()["messages"])]

    def code_after(self, mobile: str, seen: int, timeout: float = 30.0) -> str:
        """The code in the first SMS carrying one to this number after the `seen` ones (waits for the SMS
        sender). Other texts (a welcome after registration, sent through another queue) may come first."""
        deadline = time.monotonic() + timeout
        while True:
            texts = self.texts(mobile)
            for text in texts[seen:]:
                found = CODE.search(text)
                if found:
                    return found.group(1)
            assert time.monotonic() < deadline, f"no code came to {mobile} after {seen} texts: {texts[seen:]}"
            time.sleep(0.05)

    def send_otp(self, mobile: str, purpose: str = "register", channel: str = "app") -> tuple[str, str]:
        """Ask for a code and read it: (challenge_id, code)."""
        seen = len(self.texts(mobile))
        r = self.call("POST", "/v1/auth/otp", {"purpose": purpose, "mobile": mobile}, channel=channel)
        assert r.status == 202, r.body
        return str(r.body["challenge_id"]), self.code_after(mobile, seen)

    def agreements(self) -> dict[str, str]:
        if self._agreements is None:
            r = self.call("GET", "/v1/user/agreements")
            assert r.status == 200, r.body
            self._agreements = {doc: r.body[doc]["version"] for doc in ("privacy_policy", "service_agreement")}
        return dict(self._agreements)

    def registration(self, mobile: str, password: str = PASSWORD, channel: str = "app") -> dict[str, Any]:
        """A complete registration body for this number (a fresh code is texted and read)."""
        challenge_id, code = self.send_otp(mobile, "register", channel)
        return {"mobile": mobile, "password": password, "otp": {"challenge_id": challenge_id, "code": code},
                "consents": self.agreements()}

    # --- journeys ---------------------------------------------------------------------------------
    def register(self, mobile: str, password: str = PASSWORD, channel: str = "app") -> str:
        r = self.call("POST", "/v1/user/customers", self.registration(mobile, password, channel), channel=channel,
                      headers={"X-Device-Id": device_of(mobile)})
        assert r.status == 201, r.body
        return str(r.body["customer_id"])

    def login_response(self, mobile: str, password: str = PASSWORD, channel: str = "app",
                       device: str | None = None) -> Resp:
        """A customer login as the channel does it, finishing a new device's binding with its texted code."""
        device = device or device_of(mobile)
        seen = len(self.texts(mobile))
        r = self.call("POST", "/v1/auth/login", {"mobile": mobile, "password": password}, channel=channel,
                      headers={"X-Device-Id": device})
        if r.status == 403 and r.code == "DEVICE_VERIFICATION_REQUIRED":
            code = self.code_after(mobile, seen)
            r = self.call("POST", "/v1/auth/login/device", {"challenge_id": r.body["error"]["details"]["challenge_id"],
                                                            "code": code}, channel=channel,
                          headers={"X-Device-Id": device})
        return r

    def login(self, mobile: str, password: str = PASSWORD, channel: str = "app") -> str:
        r = self.login_response(mobile, password, channel)
        assert r.status == 200, r.body
        return str(r.body["access_token"])

    def staff_login(self, username: str, password: str) -> str:
        r = self.call("POST", "/v1/auth/staff/login", {"username": username, "password": password}, channel="web",
                      headers={"X-Device-Id": "staff-" + username})
        assert r.status == 200, r.body
        return str(r.body["access_token"])

    def open_account(self, token: str, account_type: str = "II", channel: str = "app") -> str:
        """Open a Type II/III account as a customer does: identity verified (KYC L2, set by the test helper),
        the e-account agreement signed, bound to a card at another bank that its bank confirms."""
        self.verify_identity(token)
        self.sign_eaccount(token, channel=channel)
        r = self.call("POST", "/v1/account/accounts", {"type": account_type, "binding": binding()}, token=token,
                      channel=channel)
        assert r.status == 201, r.body
        return str(r.body["account_id"])

    def open_type_i(self, teller: str, token: str) -> str:
        """A Type I account opened for the token's customer at the counter (identity verified: KYC L2)."""
        self.verify_identity(token)
        r = self.call("POST", "/v1/ops/accounts", {"customer_id": subject_of(token)}, token=teller, channel="web")
        assert r.status == 201, r.body
        return str(r.body["account_id"])

    def rich_customer(self, teller: str, mobile: str, amount: str, account_type: str = "II") -> tuple[str, str]:
        """A customer whose Type II (or III) account holds `amount`, more than the PBOC inflow caps let in from
        outside in a day: cash into their Type I at the counter, then to the Type II/III bound to it (money
        between an account and its bound account does not count)."""
        self.register(mobile)
        token = self.login(mobile)
        type_i = self.open_type_i(teller, token)
        assert self.deposit(teller, type_i, amount).status == 201
        self.sign_eaccount(token)
        r = self.call("POST", "/v1/account/accounts", {"type": account_type,
                                                        "binding": {"card_number": type_i, "bank_code": "SELF"}},
                      token=token)
        assert r.status == 201, r.body
        account = str(r.body["account_id"])
        step_up = self.step_up(token, mobile, {"operation": "transfer", "from_account": type_i,
                                               "to_account": account, "amount": amount})
        moved = self.transfer(token, type_i, account, amount, step_up=step_up)
        assert moved.status == 201, moved.body
        return token, account

    def verify_identity(self, token: str, level: str = "L2") -> None:
        assert self.kyc is not None, "this Api has no KYC helper (give kyc= to set verification levels)"
        self.kyc(subject_of(token), level)

    def sign_eaccount(self, token: str, channel: str = "app") -> Resp:
        """Sign the current e-account agreement (the one the bank published)."""
        doc = self.call("GET", "/v1/contract/agreement-templates/EACCOUNT", token=token, channel=channel)
        assert doc.status == 200, doc.body
        r = self.call("POST", "/v1/contract/agreements", {"template_code": "EACCOUNT", "version": doc.body["version"],
                                                           "content_hash": doc.body["content_hash"]},
                      token=token, channel=channel)
        assert r.status == 201, r.body
        return r

    def publish_eaccount(self, ops_token: str) -> None:
        """The bank publishes the e-account agreement (once: a new version only if none exists)."""
        if self.call("GET", "/v1/contract/agreement-templates/EACCOUNT", token=ops_token, channel="web").status == 200:
            return
        template = {"code": "EACCOUNT", "title": EACCOUNT_TITLE, "content": EACCOUNT_TEXT}
        r = self.call("POST", "/v1/ops/agreement-templates", template, token=ops_token, channel="web")
        assert r.status == 201, r.body

    def outbound(self, token: str, src: str, to_account: str, amount: str, key: str | None = None,
                 to_bank: str = OTHER_BANK, memo: str = "") -> Resp:
        return self.call("POST", "/v1/account/outbound-transfers",
                         {"from_account": src, "to_bank": to_bank, "to_account": to_account, "to_name": "收款人",
                          "amount": amount, "memo": memo}, token=token, key=key or new_key())

    def statement(self, token: str, account_id: str) -> list[dict[str, Any]]:
        """Every entry of the account's statement, oldest first (the API pages newest first)."""
        entries: list[dict[str, Any]] = []
        cursor = None
        for _ in range(500):
            r = self.call("GET", f"/v1/account/accounts/{account_id}/statement?limit=100"
                          + (f"&cursor={cursor}" if cursor else ""), token=token)
            assert r.status == 200, r.body
            entries.extend(r.body["items"])
            cursor = r.body.get("next_cursor")
            if not cursor:
                return list(reversed(entries))
        raise AssertionError("statement pagination did not end")

    def reverse(self, ops_token: str, transfer_id: str, reason: str = "customer error") -> Resp:
        return self.call("POST", "/v1/ops/reversals", {"transfer_id": transfer_id, "reason": reason}, token=ops_token,
                         channel="web", key=new_key())

    def ops(self, ops_token: str, account_id: str, action: str, reason: str = "ops check") -> Resp:
        """freeze | unfreeze | closure of an account by operations staff."""
        return self.call("POST", f"/v1/ops/accounts/{account_id}/{action}", {"reason": reason}, token=ops_token,
                         channel="web")

    def deposit(self, staff_token: str, account_id: str, amount: str, key: str | None = None) -> Resp:
        return self.call("POST", "/v1/ops/deposits", {"account_id": account_id, "amount": amount}, token=staff_token,
                         channel="web", key=key or new_key())

    def transfer(self, token: str, src: str, dst: str, amount: str, key: str | None = None, memo: str = "",
                 channel: str = "app", step_up: str | None = None) -> Resp:
        return self.call("POST", "/v1/account/transfers", {"from_account": src, "to_account": dst, "amount": amount,
                                                            "memo": memo}, token=token, key=key or new_key(),
                         channel=channel, headers={"X-Step-Up-Token": step_up} if step_up else None)

    def step_up(self, token: str, mobile: str, request: dict[str, Any]) -> str:
        """A step-up token for one exact request (POST /v1/auth/step-up, the texted code, its verify)."""
        seen = len(self.texts(mobile))
        r = self.call("POST", "/v1/auth/step-up", request, token=token)
        assert r.status == 201, r.body
        code = self.code_after(mobile, seen)
        v = self.call("POST", f"/v1/auth/step-up/{r.body['challenge_id']}/verify", {"code": code}, token=token)
        assert v.status == 200, v.body
        return str(v.body["step_up_token"])

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
