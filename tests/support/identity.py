"""Identity attacks and journeys, asserted the same way in-process (functional: moto, a gateway whose clock the
test moves) and over HTTP against the local run (integration: DynamoDB Local, real time).

`wait_cache()` lets the API authorizer's cache (30 s) run out: a revoked session's access tokens keep working
until then - by design - and never after. `Tables` reaches the authentication center's table directly for
what only time would do otherwise (a cooldown running out, a code expiring).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.abuse import assert_json_error
from tests.support.api import PASSWORD, Api, Resp, device_of, new_key, token_claims

Wait = Callable[[], None]


@dataclass
class Tables:
    """The local deployment's tables: a DynamoDB client (moto or DynamoDB Local) and the name prefix."""

    client: Any
    prefix: str

    def name(self, logical_id: str) -> str:
        return f"{self.prefix}-{logical_id}"

    def cooldown_over(self, mobile: str) -> None:
        """The 60 s between two codes of a kind to one phone have passed."""
        for purpose in ("register", "login_device", "password_reset", "step_up"):
            self.client.delete_item(TableName=self.name("AuthTable"),
                                    Key={"pk": {"S": f"RATE#otp-resend#{mobile}#{purpose}"}, "sk": {"S": "-"}})

    def day_over(self, mobile: str) -> None:
        """A new day: the daily cap of codes to this phone starts again."""
        for item in self.auth_items():
            if item["pk"]["S"].startswith(f"RATE#otp-daily#{mobile}#"):
                self.client.delete_item(TableName=self.name("AuthTable"), Key={"pk": item["pk"], "sk": item["sk"]})

    def expire_code(self, challenge_id: str) -> None:
        self.client.update_item(TableName=self.name("AuthTable"),
                                Key={"pk": {"S": f"OTP#{challenge_id}"}, "sk": {"S": "-"}},
                                UpdateExpression="SET expires_ms = :past",
                                ExpressionAttributeValues={":past": {"N": str(int(time.time() * 1000) - 1)}})

    def auth_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.name("AuthTable"), "ConsistentRead": True}
        while True:
            page = self.client.scan(**kwargs)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def local_tables(local_platform: Any) -> Tables:
    """The local run's tables on DynamoDB Local."""
    import boto3

    client = boto3.client("dynamodb", endpoint_url=local_platform.info["dynamodb"],
                          region_name=local_platform.info["region"], aws_access_key_id="local",
                          aws_secret_access_key="local")
    return Tables(client, local_platform.info["prefix"])


def codes_in(text: str) -> list[str]:
    """The 6-digit codes in an SMS."""
    import re

    return re.findall(r"(?<![0-9])[0-9]{6}(?![0-9])", text)


def session(api: Api, mobile: str, channel: str = "app", device: str | None = None) -> dict[str, Any]:
    """A customer's login (finishing a new device's binding with its code): the whole token answer."""
    r = api.login_response(mobile, PASSWORD, channel, device)
    assert r.status == 200, r.body
    return dict(r.body)


def customer(api: Api, mobile: str) -> dict[str, Any]:
    api.register(mobile)
    return session(api, mobile)


def works(api: Api, token: str, channel: str = "app") -> bool:
    r = api.call("GET", "/v1/auth/devices", token=token, channel=channel)
    assert r.status in (200, 401), r.body
    return r.status == 200


def refresh(api: Api, refresh_token: str, device: str, channel: str = "app") -> Resp:
    return api.call("POST", "/v1/auth/token/refresh", {"refresh_token": refresh_token}, channel=channel,
                    headers={"X-Device-Id": device})


# --- sessions ------------------------------------------------------------------------------------------------

def check_refresh_rotates_and_reuse_ends_the_family(api: Api, mobiles: Callable[[], str], wait_cache: Wait) -> None:
    mobile = mobiles()
    first = customer(api, mobile)
    device = device_of(mobile)
    rotated = refresh(api, first["refresh_token"], device)
    assert rotated.status == 200, rotated.body
    assert rotated.body["refresh_token"] != first["refresh_token"]
    assert token_claims(rotated.body["access_token"])["sid"] == token_claims(first["access_token"])["sid"]
    assert works(api, rotated.body["access_token"])
    # Another device or channel cannot use the refresh token.
    assert_json_error(refresh(api, rotated.body["refresh_token"], "someone-elses-phone"), 401, "INVALID_REFRESH_TOKEN")
    assert_json_error(refresh(api, rotated.body["refresh_token"], device, "web"), 401, "INVALID_REFRESH_TOKEN")
    # The first refresh token again: someone has a copy. The whole family ends.
    assert_json_error(refresh(api, first["refresh_token"], device), 401, "REFRESH_TOKEN_REUSED")
    assert_json_error(refresh(api, rotated.body["refresh_token"], device), 401, "SESSION_REVOKED")
    other = session(api, mobile, "web")  # another session of the same customer is not touched
    wait_cache()
    assert not works(api, first["access_token"]) and not works(api, rotated.body["access_token"])
    assert works(api, other["access_token"], "web")


def check_logout_and_revoke_all(api: Api, mobiles: Callable[[], str], wait_cache: Wait) -> None:
    mobile = mobiles()
    app = customer(api, mobile)
    web = session(api, mobile, "web")
    assert api.call("POST", "/v1/auth/logout", token=app["access_token"]).status == 204
    assert_json_error(refresh(api, app["refresh_token"], device_of(mobile)), 401, "SESSION_REVOKED")
    wait_cache()
    assert not works(api, app["access_token"])
    assert works(api, web["access_token"], "web")  # logout ends this session only
    assert api.call("POST", "/v1/auth/sessions/revoke-all", token=web["access_token"], channel="web").status == 204
    assert_json_error(refresh(api, web["refresh_token"], device_of(mobile), "web"), 401, "SESSION_REVOKED")
    wait_cache()
    assert not works(api, web["access_token"], "web")
    again = session(api, mobile)  # a new login after a revoke-all works
    assert works(api, again["access_token"])


def check_staff_deprovisioning(api: Api, username: str, password: str, deprovision: Callable[[str], Any],
                               wait_cache: Wait) -> None:
    r = api.call("POST", "/v1/auth/staff/login", {"username": username, "password": password}, channel="web",
                 headers={"X-Device-Id": "desk-1"})
    assert r.status == 200, r.body
    token, refresh_token = r.body["access_token"], r.body["refresh_token"]
    assert api.call("GET", "/v1/auth/jwks", channel=None).status == 200
    deposit = {"account_id": "6230000000000001", "amount": "1.00"}
    assert api.call("POST", "/v1/ops/deposits", deposit, token=token, channel="web", key=new_key()).status == 404
    deprovision(username)
    assert_json_error(refresh(api, refresh_token, "desk-1", "web"), 401, "SESSION_REVOKED")
    again = api.call("POST", "/v1/auth/staff/login", {"username": username, "password": password}, channel="web",
                     headers={"X-Device-Id": "desk-1"})
    assert_json_error(again, 401, "INVALID_CREDENTIALS")
    wait_cache()
    r = api.call("POST", "/v1/ops/deposits", deposit, token=token, channel="web", key=new_key())
    assert_json_error(r, 401, "UNAUTHORIZED")


def check_tokens_are_bound_to_their_device(api: Api, mobiles: Callable[[], str]) -> None:
    tokens = customer(api, mobiles())
    access = tokens["access_token"]
    assert works(api, access)
    stolen = api.call("GET", "/v1/auth/devices", token=access, headers={"X-Device-Id": "attackers-phone"})
    assert_json_error(stolen, 401, "UNAUTHORIZED")
    missing = api.call("GET", "/v1/auth/devices", token=access, headers={"X-Device-Id": ""})
    assert_json_error(missing, 401, "UNAUTHORIZED")


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def check_forged_tokens_are_refused(api: Api, mobiles: Callable[[], str], sign_foreign: Callable[[dict], str],
                                    expired: Callable[[dict], str]) -> None:
    """Tampered, `alg: none`, wrong-key and expired tokens get 401 from the authorizer; `sign_foreign` signs
    claims with a key that is not ours (but names our kid), `expired` signs a token that expired."""
    tokens = customer(api, mobiles())
    good = tokens["access_token"]
    head, payload, signature = good.split(".")
    claims = token_claims(good)
    kid = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))["kid"]
    victim = {**claims, "sub": "c-someone-else"}
    forged = {
        "tampered": f"{head}.{_b64(victim)}.{signature}",
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{_b64(victim)}.",
        "wrong key": sign_foreign(victim),
        "expired": expired(claims),
        "truncated": f"{head}.{payload}",
    }
    for name, token in forged.items():
        r = api.call("GET", "/v1/auth/devices", token=token, headers={"X-Device-Id": claims["dev"]})
        assert r.status == 401 and r.code == "UNAUTHORIZED", (name, r.status, r.body)
    assert works(api, good)


# --- devices -------------------------------------------------------------------------------------------------

def check_a_new_device_needs_a_code_and_binds(api: Api, mobiles: Callable[[], str], tables: Tables) -> None:
    mobile = mobiles()
    mine = customer(api, mobile)
    tables.cooldown_over(mobile)
    seen = len(api.texts(mobile))
    r = api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": PASSWORD}, headers={"X-Device-Id": "tablet"})
    assert_json_error(r, 403, "DEVICE_VERIFICATION_REQUIRED")
    challenge = r.body["error"]["details"]["challenge_id"]
    assert r.body["error"]["details"]["sent_to"] != mobile  # masked
    code = api.code_after(mobile, seen)
    wrong = "000000" if code != "000000" else "111111"
    bad = api.call("POST", "/v1/auth/login/device", {"challenge_id": challenge, "code": wrong},
                   headers={"X-Device-Id": "tablet"})
    assert_json_error(bad, 401, "OTP_INVALID")
    elsewhere = api.call("POST", "/v1/auth/login/device", {"challenge_id": challenge, "code": code},
                         headers={"X-Device-Id": "thief"})  # the code is for the device that asked
    assert_json_error(elsewhere, 401, "OTP_INVALID")
    ok = api.call("POST", "/v1/auth/login/device", {"challenge_id": challenge, "code": code},
                  headers={"X-Device-Id": "tablet"})
    assert ok.status == 200, ok.body
    replay = api.call("POST", "/v1/auth/login/device", {"challenge_id": challenge, "code": code},
                      headers={"X-Device-Id": "tablet"})
    assert_json_error(replay, 409, "OTP_ALREADY_USED")
    listed = api.call("GET", "/v1/auth/devices", token=ok.body["access_token"]).body
    assert len(listed["items"]) == 2 and listed["limit"] == 5
    assert [d["current"] for d in listed["items"]] == [False, True]
    # From now on the tablet logs in without a code.
    again = api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": PASSWORD},
                     headers={"X-Device-Id": "tablet"})
    assert again.status == 200, again.body
    # Unbinding the tablet (from the phone) ends its sessions; another customer cannot unbind it.
    tablet_id = listed["items"][1]["device_id"]
    intruder = customer(api, mobiles())
    assert_json_error(api.call("DELETE", f"/v1/auth/devices/{tablet_id}", token=intruder["access_token"]), 404,
                      "DEVICE_NOT_FOUND")
    assert api.call("DELETE", f"/v1/auth/devices/{tablet_id}", token=mine["access_token"]).status == 204
    assert_json_error(refresh(api, again.body["refresh_token"], "tablet"), 401, "SESSION_REVOKED")
    assert_json_error(api.call("DELETE", f"/v1/auth/devices/{tablet_id}", token=mine["access_token"]), 404,
                      "DEVICE_NOT_FOUND")
    assert_json_error(api.call("DELETE", "/v1/auth/devices/not-a-device-id", token=mine["access_token"]), 404)


def check_the_device_limit(api: Api, mobiles: Callable[[], str], tables: Tables) -> None:
    mobile = mobiles()
    customer(api, mobile)  # the registering phone is the first device
    for number in range(4):
        tables.cooldown_over(mobile)
        session(api, mobile, device=f"device-{number}")
    tables.cooldown_over(mobile)
    seen = len(api.texts(mobile))
    r = api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": PASSWORD}, headers={"X-Device-Id": "sixth"})
    assert_json_error(r, 403, "DEVICE_VERIFICATION_REQUIRED")
    full = api.call("POST", "/v1/auth/login/device", {"challenge_id": r.body["error"]["details"]["challenge_id"],
                                                      "code": api.code_after(mobile, seen)},
                    headers={"X-Device-Id": "sixth"})
    assert_json_error(full, 409, "DEVICE_LIMIT_REACHED")
    assert full.body["error"]["details"]["limit"] == 5


# --- one-time passwords --------------------------------------------------------------------------------------

def check_codes_resist_guessing_replay_and_expiry(api: Api, mobiles: Callable[[], str], tables: Tables) -> None:
    mobile = mobiles()
    challenge_id, code = api.send_otp(mobile)
    wrong = [f"{(int(code) + n) % 1_000_000:06d}" for n in range(1, 6)]
    reg = {"mobile": mobile, "password": PASSWORD, "consents": api.agreements()}
    for guess in wrong:
        r = api.call("POST", "/v1/user/customers", {**reg, "otp": {"challenge_id": challenge_id, "code": guess}})
        assert_json_error(r, 401, "OTP_INVALID")
    # Five guesses used the code up: even the right code is refused now.
    r = api.call("POST", "/v1/user/customers", {**reg, "otp": {"challenge_id": challenge_id, "code": code}})
    assert_json_error(r, 403, "OTP_TOO_MANY_ATTEMPTS")
    # 60 s between codes to one phone, then a fresh code works.
    again = api.call("POST", "/v1/auth/otp", {"purpose": "register", "mobile": mobile})
    assert_json_error(again, 429, "RATE_LIMITED")
    assert 1 <= int(again.headers["retry-after"]) <= 60
    tables.cooldown_over(mobile)
    challenge_id, code = api.send_otp(mobile)
    tables.expire_code(challenge_id)
    r = api.call("POST", "/v1/user/customers", {**reg, "otp": {"challenge_id": challenge_id, "code": code}})
    assert_json_error(r, 401, "OTP_EXPIRED")
    tables.cooldown_over(mobile)
    challenge_id, code = api.send_otp(mobile)
    ok = api.call("POST", "/v1/user/customers", {**reg, "otp": {"challenge_id": challenge_id, "code": code}})
    assert ok.status == 201, ok.body
    # No table holds a code, in the clear or sealed, once it was texted.
    for item in tables.auth_items():
        if item["pk"]["S"].startswith("OTP#"):
            assert "sealed" not in item or item.get("delivery", {}).get("S") == "pending", item
            assert code not in json.dumps(item), item


def check_the_daily_cap_per_phone(api: Api, mobiles: Callable[[], str], tables: Tables) -> None:
    mobile = mobiles()
    for _ in range(10):
        tables.cooldown_over(mobile)
        assert api.call("POST", "/v1/auth/otp", {"purpose": "register", "mobile": mobile}).status == 202
    tables.cooldown_over(mobile)
    capped = api.call("POST", "/v1/auth/otp", {"purpose": "register", "mobile": mobile})
    assert_json_error(capped, 429, "RATE_LIMITED")
    assert capped.body["error"]["details"]["rule"] == "otp-daily"


# --- step-up -------------------------------------------------------------------------------------------------

TRANSFER = {"operation": "transfer", "from_account": "6230000000000001", "to_account": "6230000000000002",
            "amount": "8000.00"}


def step_up_token(api: Api, mobile: str, access: str, request: dict[str, Any] | None = None) -> tuple[str, str]:
    """(challenge id, step-up token) for a request, verified with its texted code."""
    seen = len(api.texts(mobile))
    r = api.call("POST", "/v1/auth/step-up", request or TRANSFER, token=access)
    assert r.status == 201, r.body
    challenge = r.body["challenge_id"]
    code = api.code_after(mobile, seen)
    v = api.call("POST", f"/v1/auth/step-up/{challenge}/verify", {"code": code}, token=access)
    assert v.status == 200, v.body
    return challenge, str(v.body["step_up_token"])


def check_step_up_challenges(api: Api, mobiles: Callable[[], str], tables: Tables) -> str:
    """A step-up for one request, satisfied once with its code, by its own session and device only; returns
    a step-up token for TRANSFER (the money side is bank_common.stepup's, tested with a transaction)."""
    mobile = mobiles()
    mine = customer(api, mobile)
    seen = len(api.texts(mobile))
    r = api.call("POST", "/v1/auth/step-up", TRANSFER, token=mine["access_token"])
    assert r.status == 201 and r.body["methods"] == ["otp"], r.body
    challenge = r.body["challenge_id"]
    code = api.code_after(mobile, seen)
    other_mobile = mobiles()
    other = customer(api, other_mobile)
    stolen = api.call("POST", f"/v1/auth/step-up/{challenge}/verify", {"code": code}, token=other["access_token"])
    assert_json_error(stolen, 404, "STEP_UP_NOT_FOUND")  # another customer's challenge is not theirs
    tables.cooldown_over(mobile)
    tablet = session(api, mobile, device="tablet")
    elsewhere = api.call("POST", f"/v1/auth/step-up/{challenge}/verify", {"code": code}, token=tablet["access_token"])
    assert_json_error(elsewhere, 404, "STEP_UP_NOT_FOUND")  # nor another device's (or session's)
    ok = api.call("POST", f"/v1/auth/step-up/{challenge}/verify", {"code": code}, token=mine["access_token"])
    assert ok.status == 200 and ok.body["expires_in"] == 300, ok.body
    replay = api.call("POST", f"/v1/auth/step-up/{challenge}/verify", {"code": code}, token=mine["access_token"])
    assert_json_error(replay, 409, "OTP_ALREADY_USED")
    claims = token_claims(ok.body["step_up_token"])
    assert claims["aud"] == "step-up" and claims["dev"] == device_of(mobile)
    # A step-up token is not an access token.
    assert not works(api, ok.body["step_up_token"])
    return str(ok.body["step_up_token"])


# --- passwords -----------------------------------------------------------------------------------------------

def check_password_change_and_reset(api: Api, mobiles: Callable[[], str], tables: Tables, wait_cache: Wait) -> None:
    mobile = mobiles()
    before = customer(api, mobile)
    wrong = api.call("POST", "/v1/auth/password", {"old_password": "Not-my-passw0rd", "new_password": "Changed-1234"},
                     token=before["access_token"])
    assert_json_error(wrong, 401, "INVALID_CREDENTIALS")
    changed = api.call("POST", "/v1/auth/password", {"old_password": PASSWORD, "new_password": "Changed-1234"},
                       token=before["access_token"])
    assert changed.status == 200, changed.body
    assert_json_error(refresh(api, before["refresh_token"], device_of(mobile)), 401, "SESSION_REVOKED")
    assert works(api, changed.body["access_token"])
    assert api.login_response(mobile, PASSWORD).status == 401
    assert api.login_response(mobile, "Changed-1234").status == 200
    # Forgotten: a code for `password_reset`, then a new password; every session ends.
    tables.cooldown_over(mobile)
    challenge_id, code = api.send_otp(mobile, "password_reset")
    reset = {"mobile": mobile, "challenge_id": challenge_id, "code": code, "new_password": "Reset-pass-99"}
    assert api.call("POST", "/v1/auth/password/reset", {**reset, "mobile": mobiles()}).status == 401  # another phone
    assert api.call("POST", "/v1/auth/password/reset", reset).status == 204
    assert_json_error(api.call("POST", "/v1/auth/password/reset", reset), 409, "OTP_ALREADY_USED")
    assert api.login_response(mobile, "Changed-1234").status == 401
    assert api.login_response(mobile, "Reset-pass-99").status == 200
    wait_cache()
    assert not works(api, changed.body["access_token"])
    # A reset for a number nobody registered is answered alike, and texts nobody.
    stranger = mobiles()
    r = api.call("POST", "/v1/auth/otp", {"purpose": "password_reset", "mobile": stranger})
    assert r.status == 202 and api.texts(stranger) == []
