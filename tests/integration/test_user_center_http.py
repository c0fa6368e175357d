"""The user center over HTTP against the local run: the same checks as tests/functional/test_user_center.py
(KYC images really go to the presigned URLs, on the moto server), and crowds racing one channel identity, one
ID number and a customer's last two ways to log in."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.support import customer
from tests.support.api import Api, Resp
from tests.support.figures import report
from tests.support.identity import customer as new_customer


def new_mobile() -> str:
    return "133" + str(uuid.uuid4().int)[:8]


def test_profile_is_masked_and_editable(api: Api) -> None:
    customer.check_profile_is_masked_and_editable(api, new_mobile)


def test_notification_preferences(api: Api) -> None:
    customer.check_notification_preferences(api, new_mobile)


def test_addresses_belong_to_their_customer(api: Api) -> None:
    customer.check_addresses_belong_to_their_customer(api, new_mobile)


def test_the_risk_questionnaire(api: Api) -> None:
    customer.check_the_risk_questionnaire(api, new_mobile)


def test_channel_identities(api: Api) -> None:
    customer.check_channel_identities(api, new_mobile)


def test_kyc(api: Api) -> None:
    customer.check_kyc(api, new_mobile)


def race(calls: list[Any]) -> list[Resp]:
    barrier = threading.Barrier(len(calls))

    def one(call: Any) -> Resp:
        barrier.wait(30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(one, calls))


def own(local_platform: Any) -> Api:
    return Api(base_url=local_platform.base_url, session=requests.Session())


def test_one_wechat_identity_links_to_one_of_six_racing_customers(api: Api, local_platform: Any) -> None:
    tokens = [new_customer(api, new_mobile())["access_token"] for _ in range(6)]
    user = "racer-" + uuid.uuid4().hex[:8]
    results = race([lambda t=t: own(local_platform).call("POST", "/v1/user/identities",
                                                         {"provider": "wechat_mp", "code": f"wx.{user}"}, token=t)
                    for t in tokens])
    outcomes = sorted(f"{r.status} {r.code}" for r in results)
    report(f"6 customers racing to link one WeChat identity: {outcomes}")
    assert outcomes.count("201 None") == 1
    assert set(outcomes) - {"201 None"} <= {"409 IDENTITY_LINKED_ELSEWHERE"}, outcomes


def test_racing_unlinks_never_remove_the_last_way_to_log_in(api: Api, local_platform: Any) -> None:
    token = new_customer(api, new_mobile())["access_token"]
    linked = api.call("POST", "/v1/user/identities", {"provider": "alipay_mp", "code": f"ali.{uuid.uuid4().hex}"},
                      token=token)
    assert linked.status == 201, linked.body
    results = race([lambda: own(local_platform).call("DELETE", "/v1/user/identities/password", token=token),
                    lambda: own(local_platform).call("DELETE", f"/v1/user/identities/{linked.body['identity_id']}",
                                                     token=token)])
    outcomes = sorted(f"{r.status} {r.code}" for r in results)
    report(f"unlinking both of a customer's two login methods at once: {outcomes}")
    assert outcomes == ["204 None", "409 LAST_LOGIN_METHOD"], outcomes
    assert len(api.call("GET", "/v1/user/identities", token=token).body["items"]) == 1


def test_one_id_number_is_verified_for_one_of_four_racing_customers(api: Api, local_platform: Any) -> None:
    number = customer.unique_id_number()
    prepared = []
    for _ in range(4):
        token = new_customer(api, new_mobile())["access_token"]
        started = api.call("POST", "/v1/user/kyc", token=token).body
        for upload in started["uploads"]:
            data = {"id_front": customer.card(number=number), "selfie": customer.selfie()}.get(upload["part"], b"back")
            customer.upload(upload["url"], data)
        prepared.append((token, started["kyc_id"]))
    results = race([lambda t=t, k=k: own(local_platform).call("POST", f"/v1/user/kyc/{k}/verify", token=t)
                    for t, k in prepared])
    outcomes = sorted(f"{r.status} {r.code}" for r in results)
    report(f"4 customers verifying one ID number at once: {outcomes}")
    assert outcomes.count("200 None") == 1 and outcomes.count("409 ID_NUMBER_TAKEN") == 3, outcomes
