"""Identity on moto, behind a gateway whose clock the test moves: sessions (refresh rotation, reuse, logout,
revoke-all, staff deprovisioning), tokens bound to devices, forged tokens, device binding and its limit,
one-time passwords (guessing, replay, expiry, cooldown, daily cap), step-up challenges, passwords.
The same checks run over HTTP against the local run (tests/integration/test_identity_http.py)."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from tests.conftest import REGION
from tests.functional.conftest import STAFF_PASSWORD, STAFF_USER, provision_staff, sms_reader
from tests.support import identity
from tests.support.abuse import assert_json_error
from tests.support.api import Api


class Clock:
    """The gateway's clock: the authorizer's cache runs out when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def pass_cache_time(self) -> None:
        from infra import template

        self.now += template.authorizer().ttl_seconds + 1


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(runtime: Any, aws: Any, clock: Clock) -> Api:
    from infra.gateway import Gateway

    provision_staff(runtime, STAFF_USER, STAFF_PASSWORD, ["teller"])
    return Api(gateway=Gateway(runtime, stage="test", region=REGION, clock=clock),
               sms_reader=sms_reader(runtime, aws))


@pytest.fixture
def tables(aws: Any) -> identity.Tables:
    return identity.Tables(boto3.client("dynamodb"), aws.naming.prefix)


def test_refresh_rotates_and_reuse_ends_the_family(api: Api, new_mobile: Any, clock: Clock) -> None:
    identity.check_refresh_rotates_and_reuse_ends_the_family(api, new_mobile, clock.pass_cache_time)


def test_revoked_tokens_work_until_the_cache_time_and_never_after(api: Api, new_mobile: Any, clock: Clock) -> None:
    tokens = identity.customer(api, new_mobile())
    assert api.call("POST", "/v1/auth/logout", token=tokens["access_token"]).status == 204
    clock.now += 29  # the authorizer's answer for this token is cached for 30 s
    assert identity.works(api, tokens["access_token"])
    clock.now += 2
    assert not identity.works(api, tokens["access_token"])


def test_logout_and_revoke_all(api: Api, new_mobile: Any, clock: Clock) -> None:
    identity.check_logout_and_revoke_all(api, new_mobile, clock.pass_cache_time)


def test_staff_deprovisioning_revokes_the_login_and_its_sessions(api: Api, runtime: Any, clock: Clock) -> None:
    provision_staff(runtime, "leaver01", "Leaver-passw0rd", ["teller"])

    def deprovision(username: str) -> None:
        reply = runtime.invoke("DeprovisionStaffFunction", {"username": username})
        assert reply["ok"] and reply["result"]["status"] == "disabled", reply

    identity.check_staff_deprovisioning(api, "leaver01", "Leaver-passw0rd", deprovision, clock.pass_cache_time)
    unknown = runtime.invoke("DeprovisionStaffFunction", {"username": "nobody99"})
    assert unknown["ok"] is False and unknown["error"]["code"] == "STAFF_NOT_FOUND"


def test_tokens_are_bound_to_their_device(api: Api, new_mobile: Any) -> None:
    identity.check_tokens_are_bound_to_their_device(api, new_mobile)


def foreign_signer(claims: dict) -> str:
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from bank_common import tokens

    private, _ = tokens.generate_keypair()
    kid = tokens.parse_keyset(tokens.keyset_document([tokens.generate_keypair()[0]])).active
    return jwt.encode(claims, load_pem_private_key(private.encode(), None), algorithm="EdDSA",
                      headers={"kid": kid})


def expired_signer(claims: dict) -> str:
    from bank_common import tokens

    now = int(time.time())
    return tokens.sign({**claims, "iat": now - 3600, "nbf": now - 3600, "exp": now - 60})


def test_forged_tokens_are_refused(api: Api, new_mobile: Any) -> None:
    identity.check_forged_tokens_are_refused(api, new_mobile, foreign_signer, expired_signer)


def test_a_new_device_needs_a_code_and_binds(api: Api, new_mobile: Any, tables: identity.Tables) -> None:
    identity.check_a_new_device_needs_a_code_and_binds(api, new_mobile, tables)


def test_the_device_limit(api: Api, new_mobile: Any, tables: identity.Tables) -> None:
    identity.check_the_device_limit(api, new_mobile, tables)


def test_codes_resist_guessing_replay_and_expiry(api: Api, new_mobile: Any, tables: identity.Tables) -> None:
    identity.check_codes_resist_guessing_replay_and_expiry(api, new_mobile, tables)


def test_the_daily_cap_per_phone(api: Api, new_mobile: Any, tables: identity.Tables) -> None:
    identity.check_the_daily_cap_per_phone(api, new_mobile, tables)


def test_step_up_challenges(api: Api, new_mobile: Any, tables: identity.Tables) -> None:
    identity.check_step_up_challenges(api, new_mobile, tables)


def test_password_change_and_reset(api: Api, new_mobile: Any, tables: identity.Tables, clock: Clock) -> None:
    identity.check_password_change_and_reset(api, new_mobile, tables, clock.pass_cache_time)


def test_jwks_verifies_the_access_tokens(api: Api, new_mobile: Any) -> None:
    import jwt

    tokens = identity.customer(api, new_mobile())
    r = api.call("GET", "/v1/auth/jwks", channel=None)
    assert r.status == 200 and r.headers["cache-control"] == "public, max-age=300"
    keys = jwt.PyJWKSet.from_dict(r.body)
    kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
    claims = jwt.decode(tokens["access_token"], keys[kid].key, algorithms=["EdDSA"], audience="channels")
    assert claims["sid"] and claims["dev"]


def test_flow_control_per_source_ip(gateway: Any, api: Api, new_mobile: Any) -> None:
    """Codes for many phones from one address: the per-IP cap (30 in 10 minutes) answers 429."""
    import json

    headers = [("X-Channel", "app"), ("Content-Type", "application/json"), ("x-api-key", gateway.api_keys["app"])]
    outcomes = []
    for _ in range(31):
        r = gateway.handle("POST", "/v1/auth/otp", headers,
                           json.dumps({"purpose": "register", "mobile": new_mobile()}).encode(), "198.51.100.7")
        outcomes.append(r.status)
    assert outcomes[:30] == [202] * 30 and outcomes[30] == 429
    # Another address is not affected.
    other = gateway.handle("POST", "/v1/auth/otp", headers,
                           json.dumps({"purpose": "register", "mobile": new_mobile()}).encode(), "198.51.100.8")
    assert other.status == 202


def test_channel_keys_usage_plans(runtime: Any, aws: Any, new_mobile: Any) -> None:
    """API Gateway's part of flow control: no valid channel key, no call; each channel's key is throttled
    (token bucket: its plan's burst, then its rate) and metered against its daily quota."""
    import json

    from infra import template
    from infra.gateway import Gateway

    clock = Clock()
    gateway = Gateway(runtime, stage="test", region=REGION, clock=clock)
    body = json.dumps({"purpose": "register", "mobile": new_mobile()}).encode()
    base = [("X-Channel", "app"), ("Content-Type", "application/json")]
    for key in (None, "not-a-key-of-ours-at-all", gateway.api_keys["web"][:-1]):
        r = gateway.handle("POST", "/v1/auth/otp", base + ([("x-api-key", key)] if key else []), body)
        assert r.status == 403 and json.loads(r.body)["error"]["code"] == "INVALID_API_KEY", r.body
    assert gateway.handle("GET", "/v1/auth/jwks", [], b"").status == 200  # services read the JWKS keyless
    plan = template.usage_plans()["alipay_mp"]
    gateway.usage.plans["alipay_mp"] = template.UsagePlan("alipay_mp", rate_limit=1, burst_limit=3, daily_quota=5)
    key = [("x-api-key", gateway.api_keys["alipay_mp"])]
    statuses = [gateway.handle("GET", "/v1/user/agreements", [("X-Channel", "alipay_mp"), *key], b"").status
                for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # the burst, then throttled
    clock.now += 2  # two seconds: two more tokens
    statuses = [gateway.handle("GET", "/v1/user/agreements", [("X-Channel", "alipay_mp"), *key], b"").status
                for _ in range(2)]
    assert statuses == [200, 200]
    clock.now += 10
    quota = gateway.handle("GET", "/v1/user/agreements", [("X-Channel", "alipay_mp"), *key], b"")
    assert quota.status == 429 and json.loads(quota.body)["error"]["code"] == "QUOTA_EXCEEDED"
    # The other channels' keys are not affected.
    assert gateway.handle("GET", "/v1/user/agreements", [("X-Channel", "app"), ("x-api-key", gateway.api_keys["app"])],
                          b"").status == 200
    assert plan.daily_quota and plan.rate_limit > 1


def test_step_up_creation_is_capped_per_customer(api: Api, new_mobile: Any, tables: identity.Tables) -> None:
    mobile = new_mobile()
    tokens = identity.customer(api, mobile)
    statuses = []
    for _ in range(11):
        tables.cooldown_over(mobile)
        tables.day_over(mobile)
        statuses.append(api.call("POST", "/v1/auth/step-up", identity.TRANSFER, token=tokens["access_token"]).status)
    assert statuses == [201] * 10 + [429]


def test_logs_hold_no_personal_data_or_secrets(api: Api, new_mobile: Any, tables: identity.Tables, aws: Any) -> None:
    """Every log line of registration, codes, logins (a new device too), refresh, step-up, password change and
    reset, at DEBUG, as the functions' logger writes it (its masking formatter): no mobile number, code, password,
    token or step-up token appears."""
    import io
    import logging

    from bank_common import obs

    stream = io.StringIO()
    powertools = obs.logger()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(powertools.registered_formatter)
    powertools.addHandler(handler)
    level = obs.log().level
    obs.log().setLevel(logging.DEBUG)
    try:
        _flow_with_every_secret(api, new_mobile, tables, stream)
    finally:
        obs.log().removeHandler(handler)
        obs.log().setLevel(level)


def _flow_with_every_secret(api: Api, new_mobile: Any, tables: identity.Tables, stream: Any) -> None:
    mobile = new_mobile()
    secrets: list[str] = [mobile, identity.PASSWORD, "Changed-1234", "Reset-pass-99"]
    body = api.registration(mobile)
    secrets.append(body["otp"]["code"])
    assert api.call("POST", "/v1/user/customers", body, headers={"X-Device-Id": "phone-x"}).status == 201
    tokens = identity.session(api, mobile, device="phone-x")
    tables.cooldown_over(mobile)
    other = identity.session(api, mobile, device="tablet-x")
    rotated = identity.refresh(api, tokens["refresh_token"], "phone-x").body
    secrets += [tokens["access_token"], tokens["refresh_token"], other["access_token"], rotated["access_token"],
                rotated["refresh_token"]]
    _, step_up = identity.step_up_token(api, mobile, rotated["access_token"])
    secrets.append(step_up)
    changed = api.call("POST", "/v1/auth/password", {"old_password": identity.PASSWORD, "new_password": "Changed-1234"},
                       token=rotated["access_token"])
    assert changed.status == 200
    secrets.append(changed.body["access_token"])
    tables.cooldown_over(mobile)
    challenge_id, code = api.send_otp(mobile, "password_reset")
    secrets.append(code)
    reset = {"mobile": mobile, "challenge_id": challenge_id, "code": code, "new_password": "Reset-pass-99"}
    assert api.call("POST", "/v1/auth/password/reset", reset).status == 204
    assert api.login_response(mobile, "Wrong-passw0rd-1").status == 401  # a failed login logs too
    texts = api.texts(mobile)
    secrets += [t for text in texts for t in identity.codes_in(text)]
    logged = stream.getvalue()
    assert '"operation":"register_customer"' in logged and "fake sms sent" in logged  # the logs were captured
    leaked = sorted({s for s in secrets if s and s in logged})
    assert leaked == [], f"in the logs: {leaked}"


def test_a_step_up_names_exactly_its_operations_fields(api: Api, new_mobile: Any) -> None:
    """Schema-valid bodies whose fields do not fit the operation (schemathesis sent nulls where the transfer's
    accounts go) are 422 STEP_UP_FIELDS_MISMATCH with the reason; a body the schema refuses is 400."""
    access = identity.customer(api, new_mobile())["access_token"]
    raise_ = {"operation": "limit_raise", "txn_type": "transfer", "limits": {"single_amount": "100.00"}}
    for body in ({**identity.TRANSFER, "from_account": None}, {**identity.TRANSFER, "txn_type": "transfer"},
                 {"operation": "transfer", "amount": None, "from_account": None, "to_account": None, "limits": None},
                 {**raise_, "limits": None}, {**raise_, "amount": "1.00"}):
        r = api.call("POST", "/v1/auth/step-up", body, token=access)
        assert_json_error(r, 422, "STEP_UP_FIELDS_MISMATCH")
        assert r.body["error"]["details"][0]["field"] == "operation"
    assert_json_error(api.call("POST", "/v1/auth/step-up", {**identity.TRANSFER, "operation": "pay"}, token=access),
                      400, "VALIDATION_FAILED")
