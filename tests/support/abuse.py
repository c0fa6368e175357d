"""Bad input and abuse, asserted the same way in-process (functional) and over HTTP (integration): every
answer is a JSON error with a stable code and a 4xx status, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.api import PASSWORD, Api, Resp, new_key


def assert_json_error(r: Resp, status: int, code: str | None = None) -> None:
    assert r.status == status, (r.status, r.body)
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    assert isinstance(r.body, dict) and set(r.body) == {"error"}, r.body
    assert {"code", "message", "request_id"} <= set(r.body["error"]), r.body
    if code is not None:
        assert r.body["error"]["code"] == code, r.body


def check_hostile_bodies_and_paths(api: Api, teller: str, mobiles: Callable[[], str]) -> None:
    token, account = api.customer_with_account(mobiles())
    _, payee = api.customer_with_account(mobiles())
    assert api.deposit(teller, account, "10.00").status == 201
    deep = "[" * 100_000 + "]" * 100_000
    for body in (deep, '{"a":' * 50_000 + "1" + "}" * 50_000, "\udcff".encode("utf-8", "surrogatepass")):
        r = api.call("POST", "/v1/account/transfers", raw=body, token=token, key=new_key())
        assert_json_error(r, 400, "MALFORMED_JSON")
    r = api.call("POST", "/v1/user/customers", raw=deep)
    assert_json_error(r, 400, "MALFORMED_JSON")
    # Ids no account can have: 2 KB, or outside the id alphabet, are "no such account", before any lookup.
    for bad_id in ("9" * 2048, "6230%0A91", "..%2F..%2Fetc", "%E4%B8%AD%E6%96%87"):
        r = api.call("GET", f"/v1/account/accounts/{bad_id}", token=token)
        assert_json_error(r, 404)
        r = api.call("GET", f"/v1/account/accounts/{bad_id}/statement", token=token)
        assert_json_error(r, 404)
    r = api.call("POST", "/v1/account/transfers", {"from_account": account, "to_account": "9" * 2048,
                                                   "amount": "1.00"}, token=token, key=new_key())
    assert_json_error(r, 400, "VALIDATION_FAILED")
    r = api.call("POST", "/v1/account/transfers", raw="from_account=1", token=token, key=new_key(),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_json_error(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert api.balance(token, account) == "10.00"


def check_unknown_routes_answer_like_the_gateway(api: Api) -> None:
    for method, path in (("TRACE", "/v1/account/accounts"), ("DELETE", "/v1/account/transfers"),
                         ("GET", "/v1/nowhere"), ("PATCH", "/v1/user/customers"), ("GET", "/")):
        assert_json_error(api.call(method, path), 404, "NOT_FOUND")


def unchecked_registration(api: Api, mobile: str, password: str = PASSWORD) -> dict[str, Any]:
    """A registration body that is well formed but whose code nobody texted (for answers given before the
    code is checked: a malformed field, a number already registered)."""
    return {"mobile": mobile, "password": password, "otp": {"challenge_id": "otp_" + "x" * 24, "code": "000000"},
            "consents": api.agreements()}


def check_mobile_numbers_are_one_form(api: Api, mobiles: Callable[[], str]) -> None:
    mobile = mobiles()
    for sneaky in (mobile + "\n", mobile + " ", " " + mobile, mobile[:-1] + "\uff11", "+86" + mobile + "\n"):
        r = api.call("POST", "/v1/user/customers", unchecked_registration(api, sneaky))
        assert_json_error(r, 400, "VALIDATION_FAILED")
    api.register(mobile)
    again = api.call("POST", "/v1/user/customers", unchecked_registration(api, "+86" + mobile, "Other-passw0rd"))
    assert_json_error(again, 409, "MOBILE_ALREADY_REGISTERED")
    assert api.login_response("+86" + mobile).status == 200


def lock_outcomes(responses: list[Resp]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in responses:
        key = f"{r.status} {r.code}"
        out[key] = out.get(key, 0) + 1
    return out


def attempts(api: Api, path: str, body: dict[str, Any], channel: str = "app") -> Resp:
    return api.call("POST", path, body, channel=channel, headers={"X-Device-Id": "d-lock"})
