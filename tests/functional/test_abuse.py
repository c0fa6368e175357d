"""Bad input and abuse through the gateway emulation (moto): hostile bodies and ids, unknown routes, one form
of mobile number, the lockout rule, registration that converges after a lost answer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.functional.conftest import STAFF_PASSWORD, STAFF_USER, table_items
from tests.support import abuse
from tests.support.api import PASSWORD, Api


def test_hostile_bodies_and_paths(api: Api, teller: str, new_mobile: Any) -> None:
    abuse.check_hostile_bodies_and_paths(api, teller, new_mobile)


def test_unknown_routes_answer_like_the_gateway(api: Api) -> None:
    abuse.check_unknown_routes_answer_like_the_gateway(api)


def test_mobile_numbers_are_one_form(api: Api, new_mobile: Any) -> None:
    abuse.check_mobile_numbers_are_one_form(api, new_mobile)


# --- lockout -------------------------------------------------------------------------------------------

def login(api: Api, mobile: str, password: str) -> Any:
    return api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": password},
                    headers={"X-Device-Id": "d-lock"})


def unlock_now(aws: Any, login_name: str) -> None:
    """Time passes: the lock has run out (its expiry moved into the past)."""
    boto3.client("dynamodb").update_item(
        TableName=aws["CREDENTIALS_TABLE"], Key={"login": {"S": login_name}},
        UpdateExpression="SET locked_until = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}})


def test_five_wrong_passwords_lock_even_the_right_one_out(api: Api, new_mobile: Any, aws: Any) -> None:
    mobile = new_mobile()
    api.register(mobile)
    outcomes = [login(api, mobile, "Wrong-passw0rd") for _ in range(5)]
    assert [r.status for r in outcomes] == [401, 401, 401, 401, 403]
    abuse.assert_json_error(outcomes[-1], 403, "LOGIN_LOCKED")  # the fifth failure locks, and says so
    locked = login(api, mobile, PASSWORD)
    abuse.assert_json_error(locked, 403, "LOGIN_LOCKED")
    assert locked.body["error"]["details"]["unlock_at"].endswith("Z")
    assert 14 * 60 <= int(locked.headers["retry-after"]) <= 15 * 60

    unlock_now(aws, f"mobile:{mobile}")
    # After the lock: a new window, not the old count; and each further lock lasts twice as long.
    assert [login(api, mobile, "Wrong-passw0rd").status for _ in range(5)] == [401, 401, 401, 401, 403]
    second = login(api, mobile, PASSWORD)
    assert 29 * 60 <= int(second.headers["retry-after"]) <= 30 * 60
    unlock_now(aws, f"mobile:{mobile}")
    assert login(api, mobile, PASSWORD).status == 200
    # A success starts everything afresh: the next lock is the short one again.
    assert [login(api, mobile, "Wrong-passw0rd").status for _ in range(5)][-1] == 403
    assert int(login(api, mobile, PASSWORD).headers["retry-after"]) <= 15 * 60


def test_a_right_password_resets_the_count(api: Api, new_mobile: Any) -> None:
    mobile = new_mobile()
    api.register(mobile)
    for _ in range(4):
        assert login(api, mobile, "Wrong-passw0rd").status == 401
    assert login(api, mobile, PASSWORD).status == 200
    assert [login(api, mobile, "Wrong-passw0rd").status for _ in range(4)] == [401] * 4


def test_staff_logins_lock_too(api: Api) -> None:
    for _ in range(4):
        r = api.call("POST", "/v1/auth/staff/login", {"username": STAFF_USER, "password": "Wrong-passw0rd"},
                     channel="web")
        assert r.status == 401
    r = api.call("POST", "/v1/auth/staff/login", {"username": STAFF_USER, "password": "Wrong-passw0rd"},
                 channel="web")
    abuse.assert_json_error(r, 403, "LOGIN_LOCKED")
    r = api.call("POST", "/v1/auth/staff/login", {"username": STAFF_USER, "password": STAFF_PASSWORD}, channel="web")
    abuse.assert_json_error(r, 403, "LOGIN_LOCKED")


def test_unknown_logins_answer_like_wrong_passwords(api: Api, new_mobile: Any) -> None:
    for _ in range(7):  # no lock for a login that does not exist, and nothing says it does not
        abuse.assert_json_error(login(api, new_mobile(), "Wrong-passw0rd"), 401, "INVALID_CREDENTIALS")


# --- registration across two centers -------------------------------------------------------------------

class FlakyAuth:
    """The cross-center invoke of the auth center, with faults: the call is lost before it arrives, or the
    answer is lost after the credential was stored (a timeout the caller cannot tell apart)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime, self.mode = runtime, "ok"

    def __call__(self, arn: str, event: dict[str, Any]) -> Any:
        if self.mode == "lost-request":
            raise TimeoutError("read timed out")
        reply = self.runtime.invoke_arn(arn, event)
        if self.mode == "lost-answer":
            raise TimeoutError("read timed out")
        return reply


@pytest.fixture
def flaky(runtime: Any) -> Iterator[FlakyAuth]:
    from bank_common import client

    fault = FlakyAuth(runtime)
    client.set_local_invoker(fault)
    yield fault
    client.set_local_invoker(runtime.invoke_arn)


def customers(aws: Any, mobile: str) -> list[dict[str, Any]]:
    return [i for i in table_items(aws, "CUSTOMERS_TABLE") if i.get("mobile", {}).get("S") == mobile]


def welcome_messages(aws: Any) -> int:
    got = boto3.client("sqs").receive_message(QueueUrl=aws.queue_urls["NotificationQueue"], MaxNumberOfMessages=10)
    return len(got.get("Messages") or [])


@pytest.mark.parametrize("fault", ["lost-answer", "lost-request"])
def test_registration_converges_after_a_lost_answer(api: Api, aws: Any, flaky: FlakyAuth, new_mobile: Any,
                                                    fault: str) -> None:
    mobile = new_mobile()
    flaky.mode = fault
    first = api.call("POST", "/v1/user/customers", {"mobile": mobile, "password": PASSWORD})
    abuse.assert_json_error(first, 503, "UPSTREAM_UNAVAILABLE")
    [pending] = customers(aws, mobile)
    assert pending["status"]["S"] == "pending"
    flaky.mode = "ok"
    retried = api.call("POST", "/v1/user/customers", {"mobile": mobile, "password": PASSWORD})
    assert retried.status == 201, retried.body
    assert f"CUST#{retried.body['customer_id']}" == pending["pk"]["S"]  # the same customer, finished
    assert [c["status"]["S"] for c in customers(aws, mobile)] == ["active"]
    assert api.login(mobile)  # the password works
    again = api.call("POST", "/v1/user/customers", {"mobile": mobile, "password": PASSWORD})
    abuse.assert_json_error(again, 409, "MOBILE_ALREADY_REGISTERED")
    assert welcome_messages(aws) == 1


def test_a_competing_registration_gets_its_own_answer(api: Api, aws: Any, flaky: FlakyAuth, new_mobile: Any) -> None:
    mobile = new_mobile()
    flaky.mode = "lost-answer"  # the first registration stored its password, then lost the answer
    api.call("POST", "/v1/user/customers", {"mobile": mobile, "password": PASSWORD})
    flaky.mode = "ok"
    other = api.call("POST", "/v1/user/customers", {"mobile": mobile, "password": "Someone-else-1"})
    abuse.assert_json_error(other, 409, "REGISTRATION_IN_PROGRESS")
    assert api.call("POST", "/v1/user/customers", {"mobile": mobile, "password": PASSWORD}).status == 201
    assert login(api, mobile, "Someone-else-1").status == 401


def test_registration_cannot_make_staff(runtime: Any) -> None:
    """The auth center's internal function makes customer credentials only (IAM also refuses the write)."""
    reply = runtime.invoke("AuthInternalFunction", {"operation": "create_credential", "payload": {
        "login": "staff:intruder", "subject": "s-intruder", "password": "Intruder-passw0rd", "roles": ["ops"]}})
    assert reply == {"ok": False, "error": {"code": "STAFF_PROVISIONING_ONLY", "status": 403,
                                            "message": "Only customer credentials are created here."}}
    roles = runtime.invoke("AuthInternalFunction", {"operation": "create_credential", "payload": {
        "login": "mobile:13900000009", "subject": "c-x", "password": "Intruder-passw0rd", "roles": ["ops"]}})
    assert roles["ok"] is False and roles["error"]["code"] == "STAFF_PROVISIONING_ONLY"
