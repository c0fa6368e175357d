"""Coupons on moto: marketing staff give them (per-customer limit), customers list theirs and validate codes for
a payment (every reason, nothing written), other centers redeem and roll back through the internal function;
per-device limits, expiry, stacking, minimum spend, channels; another customer's coupon is as good as none."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.functional.conftest import provision_staff
from tests.support.api import Api
from tests.support.marketing import MARKETER_PASSWORD, MARKETER_USER, PATH, campaign_body, running_campaign

RULES = {"per_customer": 2, "per_device": 1, "valid_days": 30, "stackable": False}


@pytest.fixture
def marketer(api: Api, runtime: Any) -> str:
    provision_staff(runtime, MARKETER_USER, MARKETER_PASSWORD, ["marketing"])
    return api.staff_login(MARKETER_USER, MARKETER_PASSWORD)


MOBILES: dict[str, str] = {}


@pytest.fixture
def customer(api: Api, new_mobile: Any) -> tuple[str, str]:
    """(customer id, access token on the app)"""
    mobile = new_mobile()
    customer_id = api.register(mobile)
    MOBILES[customer_id] = mobile
    return customer_id, api.login(mobile)


def coupon_campaign(api: Api, marketer: str, **overrides: Any) -> str:
    return running_campaign(api, marketer, coupon_rules=overrides.pop("coupon_rules", RULES), budgets=[
        {"action": "redeem", "limit": 100_000, "period": "campaign", "entity": "campaign"}], **overrides)


def give(api: Api, marketer: str, campaign_id: str, customer_id: str) -> Any:
    return api.call("POST", f"{PATH}/{campaign_id}/coupons", {"customer_id": customer_id}, token=marketer,
                    channel="web")


def validate(api: Api, token: str, codes: list[str], amount: str = "120.00", channel: str = "app") -> Any:
    r = api.call("POST", "/v1/marketing/coupons/validations", {"codes": codes, "amount": amount}, token=token,
                 channel=channel)
    assert r.status == 200, r.body
    return r.body


def internal(runtime: Any, operation: str, **payload: Any) -> dict[str, Any]:
    reply: dict[str, Any] = runtime.invoke("MarketingInternalFunction", {"operation": operation, "payload": payload})
    return reply


def coupons_table(aws: Any) -> list[dict[str, Any]]:
    return sorted(boto3.client("dynamodb").scan(TableName=aws["COUPONS_TABLE"], ConsistentRead=True)["Items"],
                  key=lambda i: i["pk"]["S"])


def test_coupons_are_given_within_the_per_customer_limit(api: Api, marketer: str, teller: str,
                                                         customer: tuple[str, str]) -> None:
    from marketing_center.logic import codes

    cid = coupon_campaign(api, marketer)
    customer_id, token = customer
    first, second = give(api, marketer, cid, customer_id), give(api, marketer, cid, customer_id)
    assert first.status == second.status == 201, first.body
    code = first.body["code"]
    assert len(code) == 13 and code[4] == code[9] == "-" and codes.valid(codes.normalise(code))
    assert not set(codes.normalise(code)) & set("01OI")
    assert (first.body["status"], first.body["face_value"], first.body["min_spend"]) == ("assigned", "10.00", "100.00")
    third = give(api, marketer, cid, customer_id)
    assert third.status == 422 and third.code == "COUPON_LIMIT_REACHED"
    mine = api.call("GET", "/v1/marketing/coupons", token=token)
    assert mine.status == 200 and [c["code"] for c in mine.body["items"]] == [second.body["code"], code]
    page = api.call("GET", "/v1/marketing/coupons?limit=1", token=token).body
    rest = api.call("GET", f"/v1/marketing/coupons?limit=1&cursor={page['next_cursor']}", token=token).body
    assert [c["code"] for c in page["items"] + rest["items"]] == [second.body["code"], code]
    # Only marketing staff give coupons; a draft or another kind of campaign gives none.
    assert give(api, teller, cid, customer_id).status == 403
    assert api.call("POST", f"{PATH}/{cid}/coupons", {"customer_id": customer_id}, token=token).status == 403
    draft = api.call("POST", PATH, campaign_body(), token=marketer, channel="web").body["campaign_id"]
    assert give(api, marketer, draft, customer_id).code == "CAMPAIGN_NOT_RUNNING"
    points = running_campaign(api, marketer, kind="points", offer={"points": 100}, budgets=[])
    assert give(api, marketer, points, customer_id).code == "NOT_A_COUPON_CAMPAIGN"
    assert give(api, marketer, "cmp-00000000000000000000", customer_id).status == 404
    assert give(api, marketer, cid, "not a customer!").status == 400


def test_validation_gives_every_reason_and_changes_nothing(api: Api, marketer: str, customer: tuple[str, str],
                                                           new_mobile: Any, aws: Any) -> None:
    cid = coupon_campaign(api, marketer)
    other_cid = coupon_campaign(api, marketer, coupon_rules={**RULES, "stackable": True}, channels=["app"],
                                offer={"amount": "10.00"})
    customer_id, token = customer
    a = give(api, marketer, cid, customer_id).body["code"]
    b = give(api, marketer, cid, customer_id).body["code"]
    c = give(api, marketer, other_cid, customer_id).body["code"]
    before = coupons_table(aws)
    ok = validate(api, token, [a.lower().replace("-", " ")])  # as typed: case, spaces and dashes do not matter
    assert (ok["valid"], ok["discount"], ok["pays"]) == (True, "10.00", "110.00")
    assert ok["coupons"] == [{"code": a, "valid": True, "reasons": [], "face_value": "10.00"}]
    reasons = {tuple(r["reasons"]) for r in validate(api, token, [a], amount="99.99")["coupons"]}
    assert reasons == {("BELOW_MIN_SPEND",)}
    web = api.login(MOBILES[customer_id], channel="web")  # tokens are bound to their channel
    assert validate(api, web, [c], channel="web")["coupons"][0]["reasons"] == ["CHANNEL_NOT_ALLOWED"]
    typo = ("3" if a[0] != "3" else "4") + a[1:]
    assert validate(api, token, [typo])["coupons"][0]["reasons"] == ["INVALID_CODE"]
    assert validate(api, token, ["XXXX-XXXX-XXX"])["coupons"][0]["reasons"] in (["INVALID_CODE"], ["NOT_FOUND"])
    both = validate(api, token, [a, b])
    assert not both["valid"] and both["discount"] == "0.00"
    assert both["coupons"][1]["reasons"] == ["SAME_CAMPAIGN", "NOT_STACKABLE"]
    assert both["coupons"][0]["reasons"] == ["NOT_STACKABLE"]
    assert validate(api, token, [c, c])["coupons"][1]["reasons"] == ["DUPLICATE", "SAME_CAMPAIGN"]
    assert validate(api, token, [c], amount="10.00")["coupons"][0]["reasons"] == ["DISCOUNT_EXCEEDS_AMOUNT"]
    # Another customer: my code is not theirs to see or use.
    stranger = new_mobile()
    api.register(stranger)
    theirs = validate(api, api.login(stranger), [a])
    assert theirs["coupons"] == [{"code": a, "valid": False, "reasons": ["NOT_FOUND"], "face_value": None}]
    assert api.call("GET", "/v1/marketing/coupons", token=api.login(stranger)).body["items"] == []
    assert coupons_table(aws) == before  # validation wrote nothing
    for bad in ({"codes": [], "amount": "1.00"}, {"codes": [a], "amount": "abc"}, {"codes": [a]},
                {"codes": ["x"], "amount": "1.00"}, {"codes": [a] * 6, "amount": "1.00"}):
        r = api.call("POST", "/v1/marketing/coupons/validations", bad, token=token)
        assert r.status == 400, (bad, r.body)


def test_redeem_roll_back_device_limit_and_expiry(api: Api, marketer: str, customer: tuple[str, str], runtime: Any,
                                                  aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    cid = coupon_campaign(api, marketer)
    customer_id, token = customer
    given = internal(runtime, "assign_coupon", campaign_id=cid, customer_id=customer_id)
    assert given["ok"], given
    a = given["result"]["code"]
    b = give(api, marketer, cid, customer_id).body["code"]
    pay = {"customer_id": customer_id, "device_id": "dev-1", "channel": "app", "amount": 12_000}
    plan = internal(runtime, "prepare_redemption", codes=[a], **pay)
    assert plan["ok"] and plan["result"]["discount"] == 1_000, plan
    redeemed = internal(runtime, "redeem_coupons", codes=[a], payment_id="pay-0000-0001", **pay)
    assert redeemed["ok"], redeemed
    again = internal(runtime, "redeem_coupons", codes=[a], payment_id="pay-0000-0002", **pay)
    assert again["error"]["code"] == "COUPONS_NOT_APPLICABLE"
    assert again["error"]["details"] == {a: ["ALREADY_REDEEMED", "DEVICE_LIMIT"]}
    # One redemption per device for this campaign: b on the same device is refused, on another it is fine.
    refused = internal(runtime, "prepare_redemption", codes=[b], **pay)
    assert refused["error"]["details"] == {b: ["DEVICE_LIMIT"]}
    assert internal(runtime, "prepare_redemption", codes=[b], **{**pay, "device_id": "dev-2"})["ok"]
    # Roll back: only the payment that redeemed it; then a is usable again and the budget and device count are back.
    wrong = internal(runtime, "rollback_coupon", code=a, payment_id="pay-0000-0009")
    assert wrong["error"]["code"] == "COUPON_NOT_REDEEMED_BY_PAYMENT"
    for _ in range(2):
        back = internal(runtime, "rollback_coupon", code=a, payment_id="pay-0000-0001")
        assert back == {"ok": True, "result": {"code": a, "status": "assigned"}}
    counts = {i["pk"]["S"].split("#")[0]: i for i in coupons_table(aws) if not i["pk"]["S"].startswith("COUPON#")}
    assert counts["DEVICE"]["n"]["N"] == "0"
    budget = boto3.client("dynamodb").get_item(TableName=aws["BUDGETS_TABLE"], Key={
        "pk": {"S": f"BUDGET#{cid}#redeem#campaign#-#campaign#ALL"}})["Item"]
    assert budget["used"]["N"] == "0"
    assert internal(runtime, "prepare_redemption", codes=[a], **pay)["ok"]
    missing = internal(runtime, "rollback_coupon", code="22222-22222-2", payment_id="pay-0000-0001")
    assert missing["error"]["code"] in ("COUPON_NOT_FOUND", "VALIDATION_FAILED")
    # 31 days later the coupons have expired (valid_days 30): listed as expired, refused with EXPIRED.
    from marketing_center.logic import campaigns, coupons

    later = campaigns.now_ms() + 31 * 86_400_000
    monkeypatch.setattr(coupons, "now_ms", lambda: later)
    reasons = validate(api, token, [a])["coupons"][0]["reasons"]
    assert "EXPIRED" in reasons
    assert {c["status"] for c in api.call("GET", "/v1/marketing/coupons", token=token).body["items"]} == {"expired"}
