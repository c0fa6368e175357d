"""Identity over HTTP against the local run (DynamoDB Local, every function in its own worker processes, the
authorizer's real 30 s cache): the same checks as tests/functional/test_identity.py, and crowds racing one
refresh token, one code, one step-up token. The checks that wait for the authorizer's cache run side by side,
so the wait is paid once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
import requests

from tests.support import identity
from tests.support.api import Api, Resp, device_of
from tests.support.figures import report


def new_mobile() -> str:
    return "135" + str(uuid.uuid4().int)[:8]


def cache_time() -> int:
    from infra import template

    return template.authorizer().ttl_seconds


def wait_cache() -> None:
    time.sleep(cache_time() + 1)


@pytest.fixture(scope="module")
def tables(local_platform: Any) -> identity.Tables:
    return identity.local_tables(local_platform)


def lambda_invoke(local_platform: Any, function: str, payload: dict[str, Any]) -> dict[str, Any]:
    """As operations do: a direct invoke, through the local run's Lambda API."""
    lam = boto3.client("lambda", endpoint_url=local_platform.info["lambda"], region_name=local_platform.info["region"],
                       aws_access_key_id="local", aws_secret_access_key="local")
    out = lam.invoke(FunctionName=f"{local_platform.info['prefix']}-{function}", Payload=json.dumps(payload).encode())
    return dict(json.loads(out["Payload"].read()))


def session_api(local_platform: Any) -> Api:
    return Api(base_url=local_platform.base_url, session=requests.Session())


def test_revocation_stops_tokens_within_the_cache_time(api: Api, local_platform: Any) -> None:
    """Rotated and reused refresh tokens, logout, revoke-all, a password change and a dismissed teller: every
    token of an ended session works at most one authorizer cache time longer, never after."""
    username, password = "leaver" + uuid.uuid4().hex[:6], "Leaver-passw0rd"
    assert lambda_invoke(local_platform, "ProvisionStaffFunction",
                         {"username": username, "password": password, "roles": ["teller"]})["ok"]

    def deprovision(name: str) -> None:
        reply = lambda_invoke(local_platform, "DeprovisionStaffFunction", {"username": name})
        assert reply["ok"], reply

    tables = identity.Tables(boto3.client("dynamodb", endpoint_url=local_platform.info["dynamodb"],
                                          region_name=local_platform.info["region"], aws_access_key_id="local",
                                          aws_secret_access_key="local"), local_platform.info["prefix"])
    checks = [
        lambda: identity.check_refresh_rotates_and_reuse_ends_the_family(session_api(local_platform), new_mobile,
                                                                         wait_cache),
        lambda: identity.check_logout_and_revoke_all(session_api(local_platform), new_mobile, wait_cache),
        lambda: identity.check_staff_deprovisioning(session_api(local_platform), username, password, deprovision,
                                                    wait_cache),
        lambda: identity.check_password_change_and_reset(session_api(local_platform), new_mobile, tables, wait_cache),
    ]
    started = time.monotonic()
    with ThreadPoolExecutor(len(checks)) as pool:
        for future in [pool.submit(check) for check in checks]:
            future.result()
    report(f"revocation over HTTP: 4 scenarios, authorizer cache {cache_time()} s, {time.monotonic() - started:.0f} s")


def test_tokens_are_bound_to_their_device(api: Api) -> None:
    identity.check_tokens_are_bound_to_their_device(api, new_mobile)


def test_forged_tokens_are_refused(api: Api) -> None:
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from bank_common import tokens

    def foreign(claims: dict) -> str:  # a key that is not ours, naming a kid we do not publish either
        private, _ = tokens.generate_keypair()
        return jwt.encode(claims, load_pem_private_key(private.encode(), None), algorithm="EdDSA",
                          headers={"kid": tokens.parse_keyset(private).active})

    def expired(claims: dict) -> str:  # signed with the local run's own key (the tests may read .local/keys)
        from infra.local import KEYS_DIR

        key = load_pem_private_key((KEYS_DIR / "private.pem").read_bytes(), None)
        now = int(time.time())
        kid = tokens.parse_keyset((KEYS_DIR / "private.pem").read_text()).active
        return jwt.encode({**claims, "iat": now - 3600, "nbf": now - 3600, "exp": now - 60}, key,
                          algorithm="EdDSA", headers={"kid": kid})

    identity.check_forged_tokens_are_refused(api, new_mobile, foreign, expired)


def test_a_new_device_needs_a_code_and_binds(api: Api, tables: identity.Tables) -> None:
    identity.check_a_new_device_needs_a_code_and_binds(api, new_mobile, tables)


def test_the_device_limit(api: Api, tables: identity.Tables) -> None:
    identity.check_the_device_limit(api, new_mobile, tables)


def test_codes_resist_guessing_replay_and_expiry(api: Api, tables: identity.Tables) -> None:
    identity.check_codes_resist_guessing_replay_and_expiry(api, new_mobile, tables)


def test_the_daily_cap_per_phone(api: Api, tables: identity.Tables) -> None:
    identity.check_the_daily_cap_per_phone(api, new_mobile, tables)


def test_step_up_challenges(api: Api, tables: identity.Tables) -> None:
    identity.check_step_up_challenges(api, new_mobile, tables)


def race(count: int, make: Any) -> list[Resp]:
    barrier = threading.Barrier(count)

    def one(_: int) -> Resp:
        call = make()
        barrier.wait(30)
        return call()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def test_parallel_refreshes_of_one_token_issue_at_most_one_and_end_the_family(api: Api, local_platform: Any) -> None:
    mobile = new_mobile()
    tokens = identity.customer(api, mobile)
    results = race(12, lambda: lambda: identity.refresh(session_api(local_platform), tokens["refresh_token"],
                                                        device_of(mobile)))
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[f"{r.status} {r.code}"] = outcomes.get(f"{r.status} {r.code}", 0) + 1
    report(f"12 parallel refreshes of one refresh token: {outcomes}")
    winners = [r for r in results if r.status == 200]
    assert len(winners) <= 1, outcomes
    assert set(outcomes) - {"200 None"} <= {"401 REFRESH_TOKEN_REUSED", "401 SESSION_REVOKED"}, outcomes
    # Anyone who raced with a copy ended the family: the winner's new refresh token is dead too.
    for winner in winners:
        r = identity.refresh(api, winner.body["refresh_token"], device_of(mobile))
        assert r.status == 401 and r.code == "SESSION_REVOKED", r.body


def test_fifty_parallel_guesses_compare_at_most_five(api: Api, local_platform: Any) -> None:
    """A new device's code guessed by a crowd: five comparisons at most, then not even the right code."""
    mobile = new_mobile()
    identity.customer(api, mobile)
    seen = len(api.texts(mobile))
    login = api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": identity.PASSWORD},
                     headers={"X-Device-Id": "stolen-laptop"})
    assert login.code == "DEVICE_VERIFICATION_REQUIRED", login.body
    challenge_id = login.body["error"]["details"]["challenge_id"]
    code = api.code_after(mobile, seen)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    results = race(50, lambda: lambda: session_api(local_platform).call(
        "POST", "/v1/auth/login/device", {"challenge_id": challenge_id, "code": wrong},
        headers={"X-Device-Id": "stolen-laptop"}))
    outcomes: dict[str, int] = {}
    for r in results:
        outcomes[f"{r.status} {r.code}"] = outcomes.get(f"{r.status} {r.code}", 0) + 1
    report(f"50 parallel wrong codes for one challenge: {outcomes}")
    assert outcomes.get("401 OTP_INVALID", 0) <= 5, outcomes
    assert set(outcomes) <= {"401 OTP_INVALID", "403 OTP_TOO_MANY_ATTEMPTS"}, outcomes
    right = api.call("POST", "/v1/auth/login/device", {"challenge_id": challenge_id, "code": code},
                     headers={"X-Device-Id": "stolen-laptop"})
    assert right.status == 403 and right.code == "OTP_TOO_MANY_ATTEMPTS", right.body


def test_one_step_up_token_pays_once_among_racing_transactions(api: Api, local_platform: Any) -> None:
    """Eight money transactions racing with one step-up token, on DynamoDB Local: exactly one commits."""
    from bank_common import stepup

    mobile = new_mobile()
    tokens = identity.customer(api, mobile)
    _, token = identity.step_up_token(api, mobile, tokens["access_token"])
    claims = identity.token_claims(token)
    client = boto3.client("dynamodb", endpoint_url=local_platform.info["dynamodb"],
                          region_name=local_platform.info["region"], aws_access_key_id="local",
                          aws_secret_access_key="local")
    prefix = local_platform.info["prefix"]
    grant = stepup.Grant(claims["jti"], claims["sub"], claims["exp"])
    import os

    os.environ[stepup.TABLE_ENV] = f"{prefix}-AuthTable"
    try:
        consume = stepup.consume_item(grant)
    finally:
        os.environ.pop(stepup.TABLE_ENV, None)

    def pay() -> str:
        money = {"Put": {"TableName": f"{prefix}-LedgerTable", "ConditionExpression": "attribute_not_exists(pk)",
                         "Item": {"pk": {"S": f"TXN#race#{uuid.uuid4().hex}"}, "sk": {"S": "REC"}}}}
        try:
            client.transact_write_items(TransactItems=[money, consume])
        except client.exceptions.TransactionCanceledException as exc:
            return str([r.get("Code") for r in exc.response["CancellationReasons"]])
        return "committed"

    barrier = threading.Barrier(8)

    def racer(_: int) -> str:
        barrier.wait(30)
        return pay()

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(racer, range(8)))
    report(f"8 transactions racing with one step-up token: {sorted(outcomes)}")
    assert outcomes.count("committed") == 1, outcomes


def test_cooldown_over_http(api: Api) -> None:
    mobile = new_mobile()
    assert api.call("POST", "/v1/auth/otp", {"purpose": "register", "mobile": mobile}).status == 202
    again = api.call("POST", "/v1/auth/otp", {"purpose": "register", "mobile": mobile})
    assert again.status == 429 and again.code == "RATE_LIMITED" and int(again.headers["retry-after"]) <= 60
    # Another purpose has its own cooldown; the daily cap counts both.
    assert api.call("POST", "/v1/auth/otp", {"purpose": "password_reset", "mobile": mobile}).status == 202
