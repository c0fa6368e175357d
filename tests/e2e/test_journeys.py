"""Customer journeys through the HTTP API of the local run (DynamoDB Local), as a channel would make them."""

from __future__ import annotations

import uuid

import pytest

from tests.support.api import Api, new_key

pytestmark = pytest.mark.integration


def mobile() -> str:
    return "137" + str(uuid.uuid4().int)[:8]


def test_wechat_customer_moves_money_between_own_accounts(api: Api, teller: str) -> None:
    m = mobile()
    api.register(m, channel="wechat_mp")
    token = api.login(m, channel="wechat_mp")
    ii = api.open_account(token, "II", channel="wechat_mp")
    iii = api.open_account(token, "III", channel="wechat_mp")
    assert api.deposit(teller, ii, "3000.00").status == 201
    moved = api.transfer(token, ii, iii, "1999.99", channel="wechat_mp")
    assert moved.status == 201 and moved.body["balance_after"] == "1000.01"
    over = api.transfer(token, ii, iii, "0.02", channel="wechat_mp")
    assert over.status == 422 and over.code == "PAYEE_CANNOT_RECEIVE"
    statement = api.call("GET", f"/v1/account/accounts/{iii}/statement", token=token, channel="wechat_mp").body
    assert [(e["direction"], e["amount"], e["balance_after"]) for e in statement["items"]] == [
        ("credit", "1999.99", "1999.99")]


def test_one_customer_same_view_on_every_channel(api: Api, teller: str) -> None:
    m = mobile()
    api.register(m, channel="app")
    tokens = {ch: api.login(m, channel=ch) for ch in ("app", "web", "alipay_mp", "wechat_oa")}
    account = {"account_id": api.open_account(tokens["app"], "II")}
    views = {ch: api.call("GET", "/v1/account/accounts", token=t, channel=ch).body for ch, t in tokens.items()}
    assert all(v == views["app"] for v in views.values())
    assert views["web"]["items"][0]["account_id"] == account["account_id"]
    stolen = api.call("GET", "/v1/account/accounts", token=tokens["app"], channel="alipay_mp")
    assert stolen.status == 401 and stolen.code == "UNAUTHORIZED"


def test_retry_after_lost_response_is_applied_once(api: Api, teller: str) -> None:
    payer_m, payee_m = mobile(), mobile()
    payer, a = api.customer_with_account(payer_m)
    payee, b = api.customer_with_account(payee_m)
    api.deposit(teller, a, "100.00")
    key = new_key()
    first = api.transfer(payer, a, b, "40.00", key=key)
    # the channel lost the response and retries the identical request, three times
    retries = [api.transfer(payer, a, b, "40.00", key=key) for _ in range(3)]
    assert all(r.status == 201 and r.body == first.body for r in retries)
    assert api.balance(payer, a) == "60.00" and api.balance(payee, b) == "40.00"
    request_id = "trace-" + uuid.uuid4().hex[:12]
    r = api.call("GET", "/v1/account/accounts", token=payer, headers={"X-Request-Id": request_id})
    assert r.headers["x-request-id"] == request_id


def test_registration_otp_login_new_device_and_step_up(api: Api, local_platform) -> None:
    """The README's journey as a channel makes it: a code texted to the number, registration with it and the
    current agreements, login from that phone, a login from a new tablet (its texted code binds it), and a
    step-up for one exact transfer (its texted code gives a single-use step-up token)."""
    from tests.support.identity import TRANSFER

    m = mobile()
    sent = api.call("POST", "/v1/auth/otp", {"purpose": "register", "mobile": m})
    assert sent.status == 202 and sent.body["expires_in"] == 300 and sent.body["resend_after"] == 60
    code = api.code_after(m, 0)
    agreements = api.call("GET", "/v1/user/agreements").body
    registered = api.call("POST", "/v1/user/customers", {
        "mobile": m, "password": "Journey-passw0rd", "otp": {"challenge_id": sent.body["challenge_id"], "code": code},
        "consents": {doc: agreements[doc]["version"] for doc in ("privacy_policy", "service_agreement")},
        "device": {"platform": "ios", "model": "iPhone15,2"}}, headers={"X-Device-Id": "journey-phone"})
    assert registered.status == 201, registered.body
    phone = api.call("POST", "/v1/auth/login", {"mobile": m, "password": "Journey-passw0rd",
                                                "device": {"platform": "ios", "model": "iPhone15,2"}},
                     headers={"X-Device-Id": "journey-phone"})
    assert phone.status == 200, phone.body  # the registering phone is bound: no code
    seen = len(api.texts(m))  # the texts so far (the welcome after registration may come in between)
    tablet = api.call("POST", "/v1/auth/login", {"mobile": m, "password": "Journey-passw0rd"},
                      headers={"X-Device-Id": "journey-tablet"})
    assert tablet.status == 403 and tablet.code == "DEVICE_VERIFICATION_REQUIRED", tablet.body
    bound = api.call("POST", "/v1/auth/login/device", {"challenge_id": tablet.body["error"]["details"]["challenge_id"],
                                                       "code": api.code_after(m, seen)},
                     headers={"X-Device-Id": "journey-tablet"})
    assert bound.status == 200, bound.body
    devices = api.call("GET", "/v1/auth/devices", token=bound.body["access_token"]).body["items"]
    assert [(d["platform"], d["current"]) for d in devices] == [("ios", False), ("", True)]
    seen = len(api.texts(m))
    challenge = api.call("POST", "/v1/auth/step-up", TRANSFER, token=phone.body["access_token"],
                         headers={"X-Device-Id": "journey-phone"})
    assert challenge.status == 201, challenge.body
    verified = api.call("POST", f"/v1/auth/step-up/{challenge.body['challenge_id']}/verify",
                        {"code": api.code_after(m, seen)}, token=phone.body["access_token"],
                        headers={"X-Device-Id": "journey-phone"})
    assert verified.status == 200 and verified.body["step_up_token"], verified.body
