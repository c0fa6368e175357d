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
from tests.support.api import PASSWORD, Api, device_of


def test_hostile_bodies_and_paths(api: Api, teller: str, new_mobile: Any) -> None:
    abuse.check_hostile_bodies_and_paths(api, teller, new_mobile)


def test_unknown_routes_answer_like_the_gateway(api: Api) -> None:
    abuse.check_unknown_routes_answer_like_the_gateway(api)


def test_mobile_numbers_are_one_form(api: Api, new_mobile: Any) -> None:
    abuse.check_mobile_numbers_are_one_form(api, new_mobile)


# --- lockout -------------------------------------------------------------------------------------------

def login(api: Api, mobile: str, password: str) -> Any:
    """A login from the customer's own (bound) device: what is left to decide is the password and the lock."""
    return api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": password},
                    headers={"X-Device-Id": device_of(mobile)})


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


STAFF_DEVICE = {"X-Device-Id": "staff-" + STAFF_USER}


def test_staff_logins_lock_too(api: Api) -> None:
    for _ in range(4):
        r = api.call("POST", "/v1/auth/staff/login", {"username": STAFF_USER, "password": "Wrong-passw0rd"},
                     channel="web", headers=STAFF_DEVICE)
        assert r.status == 401
    r = api.call("POST", "/v1/auth/staff/login", {"username": STAFF_USER, "password": "Wrong-passw0rd"},
                 channel="web", headers=STAFF_DEVICE)
    abuse.assert_json_error(r, 403, "LOGIN_LOCKED")
    r = api.call("POST", "/v1/auth/staff/login", {"username": STAFF_USER, "password": STAFF_PASSWORD}, channel="web",
                 headers=STAFF_DEVICE)
    abuse.assert_json_error(r, 403, "LOGIN_LOCKED")


def test_unknown_logins_answer_like_wrong_passwords(api: Api, new_mobile: Any) -> None:
    for _ in range(7):  # no lock for a login that does not exist, and nothing says it does not
        abuse.assert_json_error(login(api, new_mobile(), "Wrong-passw0rd"), 401, "INVALID_CREDENTIALS")


# --- registration across two centers -------------------------------------------------------------------

class FlakyAuth:
    """The credential call to the auth center, with faults: the call is lost before it arrives, or the
    answer is lost after the credential was stored (a timeout the caller cannot tell apart). The code check
    before it goes through."""

    def __init__(self, runtime: Any) -> None:
        self.runtime, self.mode = runtime, "ok"

    def __call__(self, arn: str, event: dict[str, Any]) -> Any:
        faulty = event.get("operation") == "create_credential"
        if faulty and self.mode == "lost-request":
            raise TimeoutError("read timed out")
        reply = self.runtime.invoke_arn(arn, event)
        if faulty and self.mode == "lost-answer":
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


def register_call(api: Api, body: dict[str, Any]) -> Any:
    """A registration from the customer's phone (the driver's device for that number, bound by it)."""
    return api.call("POST", "/v1/user/customers", body, headers={"X-Device-Id": device_of(body["mobile"])})


def welcome_messages(aws: Any) -> int:
    got = boto3.client("sqs").receive_message(QueueUrl=aws.queue_urls["NotificationQueue"], MaxNumberOfMessages=10)
    return len(got.get("Messages") or [])


@pytest.mark.parametrize("fault", ["lost-answer", "lost-request"])
def test_registration_converges_after_a_lost_answer(api: Api, aws: Any, flaky: FlakyAuth, new_mobile: Any,
                                                    fault: str) -> None:
    mobile = new_mobile()
    flaky.mode = fault
    body = api.registration(mobile)
    first = register_call(api, body)
    abuse.assert_json_error(first, 503, "UPSTREAM_UNAVAILABLE")
    [pending] = customers(aws, mobile)
    assert pending["status"]["S"] == "pending"
    flaky.mode = "ok"
    retried = register_call(api, body)  # the same request: its code is used, and right
    assert retried.status == 201, retried.body
    assert f"CUST#{retried.body['customer_id']}" == pending["pk"]["S"]  # the same customer, finished
    assert [c["status"]["S"] for c in customers(aws, mobile)] == ["active"]
    assert api.login(mobile)  # the password works
    again = api.call("POST", "/v1/user/customers", body)
    abuse.assert_json_error(again, 409, "MOBILE_ALREADY_REGISTERED")
    assert welcome_messages(aws) == 1


def cooldown_over(aws: Any, mobile: str) -> None:
    """Time passes: the 60 s between two codes to one phone are over."""
    boto3.client("dynamodb").delete_item(TableName=aws["AUTH_TABLE"],
                                         Key={"pk": {"S": f"RATE#otp-resend#{mobile}#register"}, "sk": {"S": "-"}})


def test_a_competing_registration_gets_its_own_answer(api: Api, aws: Any, flaky: FlakyAuth, new_mobile: Any) -> None:
    mobile = new_mobile()
    flaky.mode = "lost-answer"  # the first registration stored its password, then lost the answer
    first = api.registration(mobile)
    register_call(api, first)
    flaky.mode = "ok"
    cooldown_over(aws, mobile)
    other = api.call("POST", "/v1/user/customers", api.registration(mobile, "Someone-else-1"))
    abuse.assert_json_error(other, 409, "REGISTRATION_IN_PROGRESS")
    assert register_call(api, first).status == 201
    assert login(api, mobile, "Someone-else-1").status == 401


def test_a_used_code_cannot_register_another_number_or_finish_another_registration(
        api: Api, aws: Any, flaky: FlakyAuth, new_mobile: Any) -> None:
    """OTP replay: a code, once used, registers nothing else."""
    mobile, other = new_mobile(), new_mobile()
    body = api.registration(mobile)
    assert api.call("POST", "/v1/user/customers", body).status == 201
    replayed = api.call("POST", "/v1/user/customers", {**body, "mobile": other})
    abuse.assert_json_error(replayed, 401, "OTP_INVALID")  # a code verifies only the number it was sent to
    assert customers(aws, other) == []
    # A pending registration started with one code is not finished by another registration's used code.
    flaky.mode = "lost-request"
    third = new_mobile()
    started = api.registration(third)
    abuse.assert_json_error(api.call("POST", "/v1/user/customers", started), 503, "UPSTREAM_UNAVAILABLE")
    flaky.mode = "ok"
    forged = {**started, "otp": body["otp"], "mobile": third}
    abuse.assert_json_error(api.call("POST", "/v1/user/customers", forged), 401, "OTP_INVALID")


def test_registration_cannot_make_staff(runtime: Any) -> None:
    """The auth center's internal function makes customer credentials only (IAM also refuses the write)."""
    reply = runtime.invoke("AuthInternalFunction", {"operation": "create_credential", "payload": {
        "login": "staff:intruder", "subject": "s-intruder", "password": "Intruder-passw0rd", "roles": ["ops"]}})
    assert reply == {"ok": False, "error": {"code": "STAFF_PROVISIONING_ONLY", "status": 403,
                                            "message": "Only customer credentials are created here."}}
    roles = runtime.invoke("AuthInternalFunction", {"operation": "create_credential", "payload": {
        "login": "mobile:13900000009", "subject": "c-x", "password": "Intruder-passw0rd", "roles": ["ops"]}})
    assert roles["ok"] is False and roles["error"]["code"] == "STAFF_PROVISIONING_ONLY"
