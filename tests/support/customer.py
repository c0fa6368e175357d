"""The user center's customer-facing routes, asserted the same way in-process (functional: moto) and over HTTP
against the local run (integration): profile and masking, notification preferences, addresses, the risk
questionnaire, channel identities and channel login, KYC with the fake OCR and face adapters. Every route is
also tried by another customer (ownership: 404) and with malformed input (400)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import requests

from tests.support.abuse import assert_json_error
from tests.support.api import Api
from tests.support.identity import customer

Mobiles = Callable[[], str]


def id_number(birth: str = "19900307", sequence: str = "123", region: str = "110101") -> str:
    """A valid mainland ID number (GB 11643 check character)."""
    first17 = region + birth + sequence
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def unique_id_number() -> str:
    return id_number(sequence=f"{uuid.uuid4().int % 1000:03d}", region=f"11{uuid.uuid4().int % 9000 + 1000:04d}")


# --- profile, preferences, addresses, questionnaire ---------------------------------------------------------

def check_profile_is_masked_and_editable(api: Api, mobiles: Mobiles) -> None:
    mobile = mobiles()
    token = customer(api, mobile)["access_token"]
    r = api.call("GET", "/v1/user/profile", token=token)
    assert r.status == 200, r.body
    assert r.body["mobile"] == f"{mobile[:3]}****{mobile[-4:]}" and mobile not in json.dumps(r.body)
    assert (r.body["kyc_level"], r.body["status"], r.body["name"], r.body["id_number"]) == ("L1", "active", None, None)
    r = api.call("PATCH", "/v1/user/profile", {"nickname": "Xiao Ming", "email": "xiaoming@example.com"}, token=token)
    assert r.status == 200 and r.body["nickname"] == "Xiao Ming" and r.body["email"] == "x***@example.com", r.body
    for bad in ({"email": "not-an-email"}, {"nickname": ""}, {"nickname": "<script>"}, {"customer_id": "c-other"},
                {"mobile": "13900000000"}):
        assert_json_error(api.call("PATCH", "/v1/user/profile", bad, token=token), 400, "VALIDATION_FAILED")


def check_notification_preferences(api: Api, mobiles: Mobiles) -> None:
    token = customer(api, mobiles())["access_token"]
    r = api.call("GET", "/v1/user/preferences/notifications", token=token)
    assert r.status == 200 and r.body["topics"]["security"] is True and r.body["updated_at"] is None, r.body
    wanted = {"channels": {"sms": True, "app_push": False, "wechat": True, "email": False},
              "topics": {"transactions": True, "security": True, "marketing": True}}
    r = api.call("PUT", "/v1/user/preferences/notifications", wanted, token=token)
    assert r.status == 200 and r.body["channels"] == wanted["channels"], r.body
    assert api.call("GET", "/v1/user/preferences/notifications", token=token).body["topics"]["marketing"] is True
    off = {"channels": wanted["channels"], "topics": {**wanted["topics"], "security": False}}
    assert_json_error(api.call("PUT", "/v1/user/preferences/notifications", off, token=token), 422,
                      "SECURITY_NOTIFICATIONS_REQUIRED")
    silent = {"channels": {"sms": False, "app_push": False, "wechat": False, "email": False},
              "topics": wanted["topics"]}
    assert_json_error(api.call("PUT", "/v1/user/preferences/notifications", silent, token=token), 422)
    assert_json_error(api.call("PUT", "/v1/user/preferences/notifications", {"channels": {"sms": "yes"}, "topics": {}},
                               token=token), 400, "VALIDATION_FAILED")


ADDRESS = {"recipient": "张三", "phone": "13800138000", "region": "浙江省杭州市西湖区", "line": "文三路 100 号",
           "postcode": "310012", "label": "家"}


def check_addresses_belong_to_their_customer(api: Api, mobiles: Mobiles) -> None:
    mine = customer(api, mobiles())["access_token"]
    other = customer(api, mobiles())["access_token"]
    first = api.call("POST", "/v1/user/addresses", ADDRESS, token=mine)
    assert first.status == 201 and first.body["is_default"] is True and first.body["phone"] == "138****8000", first.body
    second = api.call("POST", "/v1/user/addresses", {**ADDRESS, "label": "公司", "is_default": True}, token=mine)
    assert second.status == 201, second.body
    listed = api.call("GET", "/v1/user/addresses", token=mine).body["items"]
    assert [(a["label"], a["is_default"]) for a in listed] == [("公司", True), ("家", False)]  # one default
    address = first.body["address_id"]
    # Another customer sees, changes and deletes nothing of it.
    assert api.call("GET", "/v1/user/addresses", token=other).body["items"] == []
    assert_json_error(api.call("PUT", f"/v1/user/addresses/{address}", ADDRESS, token=other), 404, "ADDRESS_NOT_FOUND")
    assert_json_error(api.call("DELETE", f"/v1/user/addresses/{address}", token=other), 404, "ADDRESS_NOT_FOUND")
    changed = api.call("PUT", f"/v1/user/addresses/{address}", {**ADDRESS, "line": "文三路 200 号",
                                                                 "is_default": True}, token=mine)
    assert changed.status == 200 and changed.body["line"] == "文三路 200 号", changed.body
    listed = api.call("GET", "/v1/user/addresses", token=mine).body["items"]
    assert [(a["address_id"], a["is_default"]) for a in listed][0] == (address, True)
    assert [a["is_default"] for a in listed].count(True) == 1  # the other one demoted
    assert api.call("DELETE", f"/v1/user/addresses/{address}", token=mine).status == 204
    assert_json_error(api.call("DELETE", f"/v1/user/addresses/{address}", token=mine), 404, "ADDRESS_NOT_FOUND")
    assert_json_error(api.call("DELETE", "/v1/user/addresses/../etc", token=mine), 404)
    for bad in ({**ADDRESS, "phone": "12345"}, {**ADDRESS, "postcode": "31001"}, {k: v for k, v in ADDRESS.items()
                                                                                   if k != "line"}):
        assert_json_error(api.call("POST", "/v1/user/addresses", bad, token=mine), 400, "VALIDATION_FAILED")


def check_the_risk_questionnaire(api: Api, mobiles: Mobiles) -> None:
    token = customer(api, mobiles())["access_token"]
    assert_json_error(api.call("GET", "/v1/user/risk-assessment", token=token), 404, "NO_RISK_ASSESSMENT")
    questionnaire = api.call("GET", "/v1/user/risk-questionnaire", token=token).body
    assert len(questionnaire["questions"]) == 5 and questionnaire["validity_days"] == 365
    cautious = {q["question_id"]: "a" for q in questionnaire["questions"]}
    bold = {q["question_id"]: "e" for q in questionnaire["questions"]}
    r = api.call("POST", "/v1/user/risk-assessments", {"version": questionnaire["version"], "answers": cautious},
                 token=token)
    assert r.status == 201 and (r.body["score"], r.body["level"]) == (5, "C1"), r.body
    r = api.call("POST", "/v1/user/risk-assessments", {"version": questionnaire["version"], "answers": bold},
                 token=token)
    assert (r.body["score"], r.body["level"], r.body["expired"]) == (25, "C5", False), r.body
    current = api.call("GET", "/v1/user/risk-assessment", token=token).body
    assert current["level"] == "C5" and current["answers"] == bold  # kept with its answers
    assert api.call("GET", "/v1/user/profile", token=token).body["risk_level"] == "C5"
    incomplete = {"version": questionnaire["version"], "answers": {"q1": "a"}}
    assert_json_error(api.call("POST", "/v1/user/risk-assessments", incomplete, token=token), 422,
                      "QUESTIONNAIRE_ANSWERS_INVALID")
    outdated = {"version": "2001-01", "answers": bold}
    assert_json_error(api.call("POST", "/v1/user/risk-assessments", outdated, token=token), 422,
                      "QUESTIONNAIRE_ANSWERS_INVALID")
    assert_json_error(api.call("POST", "/v1/user/risk-assessments", {"version": "x", "answers": {"q1": "z"}},
                               token=token), 400, "VALIDATION_FAILED")
    other = customer(api, mobiles())["access_token"]
    assert_json_error(api.call("GET", "/v1/user/risk-assessment", token=other), 404, "NO_RISK_ASSESSMENT")


# --- channel identities -------------------------------------------------------------------------------------

def check_channel_identities(api: Api, mobiles: Mobiles) -> None:
    mobile = mobiles()
    mine = customer(api, mobile)["access_token"]
    user = "person-" + uuid.uuid4().hex[:8]
    listed = api.call("GET", "/v1/user/identities", token=mine).body["items"]
    assert [i["provider"] for i in listed] == ["password"]
    linked = api.call("POST", "/v1/user/identities", {"provider": "wechat_mp", "code": f"wx.{user}"}, token=mine)
    assert linked.status == 201, linked.body
    again = api.call("POST", "/v1/user/identities", {"provider": "wechat_mp", "code": f"wx.{user}"}, token=mine)
    assert again.status == 201 and again.body["identity_id"] == linked.body["identity_id"]  # idempotent
    # Someone else's WeChat identity (or the same WeChat person through the other app) is refused.
    other = customer(api, mobiles())["access_token"]
    for provider in ("wechat_mp", "wechat_oa"):
        taken = api.call("POST", "/v1/user/identities", {"provider": provider, "code": f"wx.{user}"}, token=other)
        assert_json_error(taken, 409, "IDENTITY_LINKED_ELSEWHERE")
    assert_json_error(api.call("POST", "/v1/user/identities", {"provider": "alipay_mp", "code": "invalid.code"},
                               token=mine), 401, "CHANNEL_CODE_INVALID")
    assert_json_error(api.call("POST", "/v1/user/identities", {"provider": "wechat_mp"}, token=mine), 422,
                      "LINK_FIELDS_MISMATCH")  # a channel's code is needed (the document states it as anyOf)
    assert_json_error(api.call("POST", "/v1/user/identities", {"provider": "password", "code": "wx.abcd",
                                                               "password": "Passw0rd-new"}, token=mine), 422,
                      "LINK_FIELDS_MISMATCH")
    # The linked identity logs in (the WeChat person also through the official account: one unionid).
    for provider, channel in (("wechat_mp", "wechat_mp"), ("wechat_oa", "wechat_oa")):
        r = api.call("POST", "/v1/user/identities/login", {"provider": provider, "code": f"wx.{user}"},
                     channel=channel, headers={"X-Device-Id": "dev-" + mobile[-4:]})
        assert r.status == 200, r.body
    # The same WeChat person's official-account identity joins the same customer (one unionid).
    both = api.call("POST", "/v1/user/identities", {"provider": "wechat_oa", "code": f"wx.{user}"}, token=mine)
    assert both.status == 201, both.body
    assert api.call("DELETE", f"/v1/user/identities/{both.body['identity_id']}", token=mine).status == 204
    # From a device not bound yet, a channel login asks for the texted code as a password login does.
    seen = len(api.texts(mobile))
    new_device = api.call("POST", "/v1/user/identities/login", {"provider": "wechat_mp", "code": f"wx.{user}"},
                          channel="wechat_mp", headers={"X-Device-Id": "wechat-on-a-new-phone"})
    assert_json_error(new_device, 403, "DEVICE_VERIFICATION_REQUIRED")
    challenge = new_device.body["error"]["details"]["challenge_id"]
    bound = api.call("POST", "/v1/auth/login/device", {"challenge_id": challenge, "code": api.code_after(mobile, seen)},
                     channel="wechat_mp", headers={"X-Device-Id": "wechat-on-a-new-phone"})
    assert bound.status == 200, bound.body
    unknown = api.call("POST", "/v1/user/identities/login", {"provider": "alipay_mp", "code": "ali.nobody-at-all"},
                       channel="alipay_mp", headers={"X-Device-Id": "d-1"})
    assert_json_error(unknown, 404, "IDENTITY_NOT_LINKED")
    # Another customer cannot unlink it; the password can go while WeChat stays, but not the last method.
    identity = linked.body["identity_id"]
    assert_json_error(api.call("DELETE", f"/v1/user/identities/{identity}", token=other), 404, "IDENTITY_NOT_FOUND")
    assert api.call("DELETE", "/v1/user/identities/password", token=mine).status == 204
    assert api.login_response(mobile).status == 401  # the password no longer logs in
    assert_json_error(api.call("DELETE", f"/v1/user/identities/{identity}", token=mine), 409, "LAST_LOGIN_METHOD")
    back = api.call("POST", "/v1/user/identities", {"provider": "password", "password": "Back-again-123"}, token=mine)
    assert back.status == 201, back.body
    assert api.login_response(mobile, "Back-again-123").status == 200
    assert api.call("DELETE", f"/v1/user/identities/{identity}", token=mine).status == 204
    assert_json_error(api.call("DELETE", "/v1/user/identities/password", token=mine), 409, "LAST_LOGIN_METHOD")
    assert [i["provider"] for i in api.call("GET", "/v1/user/identities", token=mine).body["items"]] == ["password"]
    # Unlinked, the identity is free: another customer may link it now.
    assert api.call("POST", "/v1/user/identities", {"provider": "wechat_oa", "code": f"wx.{user}"},
                    token=other).status == 201


# --- KYC ----------------------------------------------------------------------------------------------------

def upload(url: str, data: bytes) -> None:
    r = requests.put(url, data=data, timeout=30)
    assert r.status_code in (200, 204), (r.status_code, r.text[:300])


def card(name: str = "张三", number: str | None = None, expiry: str = "2010.07.21-2035.07.21") -> bytes:
    return json.dumps({"name": name, "id_number": number or unique_id_number(), "expiry": expiry},
                      ensure_ascii=False).encode()


def selfie(live: bool = True, similarity: float = 97.5) -> bytes:
    return json.dumps({"live": live, "similarity": similarity}).encode()


def kyc_attempt(api: Api, token: str, front: bytes, face: bytes, back: bytes = b"back") -> Any:
    started = api.call("POST", "/v1/user/kyc", token=token)
    assert started.status == 201, started.body
    urls = {u["part"]: u["url"] for u in started.body["uploads"]}
    assert set(urls) == {"id_front", "id_back", "selfie"}
    for part, data in (("id_front", front), ("id_back", back), ("selfie", face)):
        upload(urls[part], data)
    return api.call("POST", f"/v1/user/kyc/{started.body['kyc_id']}/verify", token=token), started.body["kyc_id"]


def check_kyc(api: Api, mobiles: Mobiles) -> None:
    token = customer(api, mobiles())["access_token"]
    for front, face, code in ((b"a blurred photo", selfie(), "KYC_DOCUMENT_UNREADABLE"),
                              (card(number="110101199003071235"), selfie(), "KYC_ID_NUMBER_INVALID"),
                              (card(expiry="2001.01.01-2021.01.01"), selfie(), "KYC_ID_EXPIRED"),
                              (card(), selfie(live=False), "KYC_LIVENESS_FAILED"),
                              (card(), selfie(similarity=42.0), "KYC_FACE_MISMATCH")):
        r, _ = kyc_attempt(api, token, front, face)
        assert_json_error(r, 422, code)
    number = unique_id_number()
    r, kyc_id = kyc_attempt(api, token, card(number=number, expiry="长期"), selfie())
    assert r.status == 200 and r.body["kyc_level"] == "L2" and r.body["latest"]["status"] == "passed", r.body
    profile = api.call("GET", "/v1/user/profile", token=token).body
    assert profile["kyc_level"] == "L2" and profile["name"] == "张*" and profile["id_number"] == \
        f"{number[:3]}{'*' * 11}{number[-4:]}" and number not in json.dumps(profile)
    assert_json_error(api.call("POST", f"/v1/user/kyc/{kyc_id}/verify", token=token), 409, "KYC_ALREADY_FINISHED")
    assert_json_error(api.call("POST", "/v1/user/kyc", token=token), 409, "KYC_ALREADY_PASSED")
    # One ID number, one customer; and another customer's verification is not found.
    other = customer(api, mobiles())["access_token"]
    r, _ = kyc_attempt(api, other, card(number=number), selfie())
    assert_json_error(r, 409, "ID_NUMBER_TAKEN")
    assert api.call("GET", "/v1/user/kyc", token=other).body["kyc_level"] == "L1"
    assert_json_error(api.call("POST", f"/v1/user/kyc/{kyc_id}/verify", token=other), 404, "KYC_NOT_FOUND")
    started = api.call("POST", "/v1/user/kyc", token=other).body
    missing = api.call("POST", f"/v1/user/kyc/{started['kyc_id']}/verify", token=other)
    assert_json_error(missing, 422, "KYC_UPLOAD_MISSING")
    assert_json_error(api.call("POST", "/v1/user/kyc/not-a-kyc/verify", token=other), 404)
