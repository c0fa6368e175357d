"""Bad input and abuse over HTTP against the local run (DynamoDB Local, functions in worker processes): the
same hostile input as the functional level, what only a real server sees (unknown methods, broken HTTP),
and crowds racing one login or one mobile number."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import requests

from tests.support import abuse
from tests.support.api import PASSWORD, Api, Resp, device_of
from tests.support.figures import report


def new_mobile() -> str:
    return "136" + str(uuid.uuid4().int)[:8]


def test_hostile_bodies_and_paths(api: Api, teller: str) -> None:
    abuse.check_hostile_bodies_and_paths(api, teller, new_mobile)


def test_unknown_routes_answer_like_the_gateway(api: Api) -> None:
    abuse.check_unknown_routes_answer_like_the_gateway(api)


def test_mobile_numbers_are_one_form(api: Api) -> None:
    abuse.check_mobile_numbers_are_one_form(api, new_mobile)


def test_broken_http_is_answered_in_json(local_platform: Any) -> None:
    host, port = local_platform.base_url.removeprefix("http://").split(":")
    for raw in (b"BLAH\r\n\r\n", b"GET /v1/openapi.json HTTP/9.9\r\n\r\n",
                b"POST /v1/user/customers HTTP/1.1\r\nContent-Length: nope\r\n\r\n"):
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(raw)
            head, body = read_response(sock)
        assert head.split(" ")[1].startswith("4") or head.split(" ")[1].startswith("5"), head
        assert "application/json" in head.lower(), head
        assert "error" in json.loads(body), body


def read_response(sock: socket.socket) -> tuple[str, str]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += sock.recv(65536)
    return head.decode("latin-1"), body.decode()


def race(count: int, call: Any) -> list[Resp]:
    barrier = threading.Barrier(count)

    def one(_: int) -> Resp:
        barrier.wait(30)
        return call()

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def session_api(local_platform: Any) -> Api:
    return Api(base_url=local_platform.base_url, session=requests.Session())


def test_fifty_parallel_wrong_passwords_check_at_most_five(api: Api, local_platform: Any) -> None:
    mobile = new_mobile()
    api.register(mobile)
    results = race(50, lambda: session_api(local_platform).call(
        "POST", "/v1/auth/login", {"mobile": mobile, "password": "Wrong-passw0rd"}, headers={"X-Device-Id": "d1"}))
    outcomes = abuse.lock_outcomes(results)
    report(f"\n50 parallel wrong passwords for one customer: {outcomes}")
    assert set(outcomes) <= {"401 INVALID_CREDENTIALS", "403 LOGIN_LOCKED"}, outcomes
    assert 1 <= outcomes.get("401 INVALID_CREDENTIALS", 0) <= 5, outcomes
    right = api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": PASSWORD},
                     headers={"X-Device-Id": "d1"})
    abuse.assert_json_error(right, 403, "LOGIN_LOCKED")


def provision_staff(local_platform: Any, username: str, password: str) -> None:
    """As operations do: invoke ProvisionStaffFunction (here through the local run's Lambda API)."""
    lam = boto3.client("lambda", endpoint_url=local_platform.info["lambda"], region_name=local_platform.info["region"],
                       aws_access_key_id="local", aws_secret_access_key="local")
    out = lam.invoke(FunctionName=f"{local_platform.info['prefix']}-ProvisionStaffFunction",
                     Payload=json.dumps({"username": username, "password": password, "roles": ["ops"]}).encode())
    reply = json.loads(out["Payload"].read())
    assert reply["ok"], reply


def test_fifty_parallel_wrong_staff_passwords_check_at_most_five(api: Api, local_platform: Any) -> None:
    username, password = "ops" + uuid.uuid4().hex[:8], "Ops-passw0rd-1"
    provision_staff(local_platform, username, password)
    results = race(50, lambda: session_api(local_platform).call(
        "POST", "/v1/auth/staff/login", {"username": username, "password": "Wrong-passw0rd"}, channel="web",
        headers={"X-Device-Id": "staff-" + username}))
    outcomes = abuse.lock_outcomes(results)
    report(f"50 parallel wrong passwords for one staff login: {outcomes}")
    assert 1 <= outcomes.get("401 INVALID_CREDENTIALS", 0) <= 5, outcomes
    assert sum(outcomes.values()) == 50 and set(outcomes) <= {"401 INVALID_CREDENTIALS", "403 LOGIN_LOCKED"}
    right = api.call("POST", "/v1/auth/staff/login", {"username": username, "password": password}, channel="web",
                     headers={"X-Device-Id": "staff-" + username})
    abuse.assert_json_error(right, 403, "LOGIN_LOCKED")


def test_parallel_registrations_of_one_number_make_one_customer(api: Api, local_platform: Any) -> None:
    """Eight registrations of one number racing with its one texted code (each with another password)."""
    mobile = new_mobile()
    passwords = [f"Racer-{i}-passw0rd" for i in range(8)]
    challenge_id, code = api.send_otp(mobile)
    barrier = threading.Barrier(8)

    def one(password: str) -> Resp:
        own = session_api(local_platform)
        body = {"mobile": mobile, "password": password, "otp": {"challenge_id": challenge_id, "code": code},
                "consents": api.agreements()}
        barrier.wait(30)
        return own.call("POST", "/v1/user/customers", body, headers={"X-Device-Id": device_of(mobile)})

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, passwords))
    report(f"8 parallel registrations of one mobile: {abuse.lock_outcomes(results)}")
    winners = [(p, r) for p, r in zip(passwords, results, strict=True) if r.status == 201]
    assert len(winners) == 1, [(r.status, r.body) for r in results]
    for r in results:  # a loser finds the number taken, or the code used up (it verifies 5 times at most)
        if r.status != 201:
            assert r.code in {"REGISTRATION_IN_PROGRESS", "MOBILE_ALREADY_REGISTERED", "OTP_TOO_MANY_ATTEMPTS"}, r.body
    password, _ = winners[0]
    assert api.login(mobile, password)
    loser = next(p for p in passwords if p != password)
    assert api.call("POST", "/v1/auth/login", {"mobile": mobile, "password": loser},
                    headers={"X-Device-Id": "d1"}).status == 401
