"""Coupons on a bill payment (moto, decision 0043): the marketing center prepares the redemption, the account
center's capture carries it in its one transaction, the marketing expense GL account funds the discount into the
biller's settlement account; a refund gives both parts back and the coupon with them. Exactly once: raced, refused
and replayed payments."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from tests.functional.conftest import provision_staff
from tests.support import pumps
from tests.support.api import Api, subject_of
from tests.support.life import ELECTRIC, biller_secret, callback, electric_number, order
from tests.support.marketing import MARKETER_PASSWORD, MARKETER_USER, running_campaign

GL_MARKETING = "GL-6601-MARKETING"
RULES = {"per_customer": 3, "per_device": 3, "valid_days": 30, "stackable": False}


@pytest.fixture
def marketer(api: Api, runtime: Any) -> str:
    provision_staff(runtime, MARKETER_USER, MARKETER_PASSWORD, ["marketing"])
    return api.staff_login(MARKETER_USER, MARKETER_PASSWORD)


@pytest.fixture
def campaign(api: Api, marketer: str) -> str:
    """A running coupon campaign: 10.00 off a payment of 100.00 or more, on the app."""
    return running_campaign(api, marketer, coupon_rules=RULES, budgets=[
        {"action": "redeem", "limit": 100_000, "period": "campaign", "entity": "campaign"}])


def payer_with(api: Api, teller: str, new_mobile: Any, deposit: str) -> dict[str, Any]:
    token, account = api.customer_with_account(new_mobile())
    assert api.deposit(teller, account, deposit).status == 201
    return {"token": token, "account": account, "customer": subject_of(token)}


def coupon_for(runtime: Any, campaign_id: str, customer_id: str) -> str:
    given = runtime.invoke("MarketingInternalFunction", {"operation": "assign_coupon", "payload": {
        "campaign_id": campaign_id, "customer_id": customer_id}})
    assert given["ok"], given
    return str(given["result"]["code"])


NUMBERS: dict[str, str] = {}


def pay(api: Api, payer: dict[str, Any], amount: str, codes: list[str] | None, key: str, digit: str = "1") -> Any:
    number = NUMBERS.setdefault(digit, electric_number(digit))  # the same bill again: the same request
    body: dict[str, Any] = {"biller_id": ELECTRIC, "customer_number": number,
                            "account_id": payer["account"], "amount": amount}
    if codes is not None:
        body["coupon_codes"] = codes
    return api.call("POST", "/v1/life/payments", body, token=payer["token"], key=key)


def coupon_item(code: str) -> dict[str, Any]:
    normalised = code.replace("-", "").replace(" ", "").upper()
    found = [i for i in pumps.table("COUPONS_TABLE") if i["pk"]["S"] == f"COUPON#{normalised}"]
    assert len(found) == 1
    return found[0]


def redeem_budget_used(campaign_id: str) -> int:
    found = boto3.client("dynamodb").get_item(TableName=pumps_env("BUDGETS_TABLE"), Key={
        "pk": {"S": f"BUDGET#{campaign_id}#redeem#campaign#-#campaign#ALL"}}, ConsistentRead=True).get("Item")
    return int(found["used"]["N"]) if found else 0


def pumps_env(name: str) -> str:
    import os

    return os.environ[name]


def movements_with(account: str) -> list[tuple[str, list[tuple[str, str, int]]]]:
    """(kind, legs) of every completed ledger record with a leg on `account`."""
    out = []
    for item in pumps.table("LEDGER_TABLE"):
        if item.get("outcome", {}).get("S") != "completed" or "legs" not in item:
            continue
        legs = [(leg["account"], leg["direction"], leg["amount"]) for leg in json.loads(item["legs"]["S"])]
        if any(a == account for a, _, _ in legs):
            out.append((item["kind"]["S"], legs))
    return out


def test_a_coupon_lowers_the_debit_and_the_bank_funds_it_in_the_same_transaction(
        api: Api, runtime: Any, aws: Any, teller: str, new_mobile: Any, campaign: str) -> None:
    payer = payer_with(api, teller, new_mobile, "1000.00")
    code = coupon_for(runtime, campaign, payer["customer"])
    r = pay(api, payer, "120.00", [code], "bill-coupon-0001")
    assert r.status == 201, r.body
    assert r.body["status"] == "paid" and r.body["amount"] == "120.00" and r.body["discount"] == "10.00"
    assert api.balance(payer["token"], payer["account"]) == "890.00"
    lines = api.statement(payer["token"], payer["account"])
    assert (lines[-1]["kind"], lines[-1]["direction"], lines[-1]["amount"]) == ("capture", "debit", "110.00")
    assert lines[-1]["memo"].endswith("(bill 120.00, coupons 10.00)")
    coupon = coupon_item(code)
    assert coupon["status"]["S"] == "redeemed"
    assert redeem_budget_used(campaign) == 10_00
    # Double entry, one record: the customer's 110.00 and the marketing expense's 10.00 make the biller's 120.00.
    [(kind, legs)] = movements_with(GL_MARKETING)
    assert kind == "capture"
    assert sorted(legs) == sorted([(payer["account"], "debit", 110_00), (GL_MARKETING, "debit", 10_00),
                                   (legs[-1][0], "credit", 120_00)])
    assert coupon["payment_id"]["S"] == next(i for i in pumps.table("LIFE_TABLE")
                                             if i.get("order_no", {}).get("S") == r.body["order_no"])["hold_id"]["S"]
    # The same Idempotency-Key again: the same order, no second redemption, no second debit.
    again = pay(api, payer, "120.00", [code], "bill-coupon-0001")
    assert again.status == 201 and again.body == {**r.body, "updated_at": again.body["updated_at"]}
    assert api.balance(payer["token"], payer["account"]) == "890.00"
    assert redeem_budget_used(campaign) == 10_00 and len(movements_with(GL_MARKETING)) == 1
    # The same key with another coupon list is another request.
    other = pay(api, payer, "120.00", None, "bill-coupon-0001")
    assert other.status == 422 and other.code == "IDEMPOTENCY_KEY_REUSED"
    # The coupon is used: a new payment with it is refused before any money is held.
    used = pay(api, payer, "120.00", [code], "bill-coupon-0002")
    assert used.status == 422 and used.code == "COUPONS_NOT_APPLICABLE", used.body
    assert api.balance(payer["token"], payer["account"]) == "890.00"


def test_eight_payments_racing_one_coupon_use_it_once(api: Api, runtime: Any, aws: Any, teller: str,
                                                      new_mobile: Any, campaign: str) -> None:
    payer = payer_with(api, teller, new_mobile, "1000.00")
    code = coupon_for(runtime, campaign, payer["customer"])
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: pay(api, payer, "100.00", [code], f"bill-race-{i:04d}"), range(8)))
    won = [a for a in answers if a.status == 201]
    lost = [a for a in answers if a.status != 201]
    assert len(won) == 1, [(a.status, a.body) for a in answers]
    assert won[0].body["discount"] == "10.00"
    # The losers prepared the same coupon; their captures found it redeemed: refused, hold released.
    assert {(a.status, a.code) for a in lost} <= {(409, "COUPON_NOT_REDEEMABLE"), (422, "COUPONS_NOT_APPLICABLE")}
    assert api.balance(payer["token"], payer["account"]) == "910.00"
    account = api.call("GET", f"/v1/account/accounts/{payer['account']}", token=payer["token"]).body
    assert (account["available"], account["held"]) == ("910.00", "0.00")  # every loser's hold is released
    assert redeem_budget_used(campaign) == 10_00 and len(movements_with(GL_MARKETING)) == 1
    statement = [(e["kind"], e["direction"], e["amount"]) for e in api.statement(payer["token"], payer["account"])]
    assert [e for e in statement if e[0] == "capture"] == [("capture", "debit", "90.00")]
    # A refused order replays its refusal.
    loser_key = f"bill-race-{answers.index(lost[0]):04d}"
    assert pay(api, payer, "100.00", [code], loser_key).code == lost[0].code


def test_a_payment_refused_for_funds_uses_no_coupon(api: Api, runtime: Any, aws: Any, teller: str,
                                                    new_mobile: Any, campaign: str) -> None:
    payer = payer_with(api, teller, new_mobile, "50.00")
    code = coupon_for(runtime, campaign, payer["customer"])
    r = pay(api, payer, "120.00", [code], "bill-poor-0001")
    assert r.status == 422 and r.code == "INSUFFICIENT_FUNDS", r.body
    assert coupon_item(code)["status"]["S"] == "assigned"
    assert redeem_budget_used(campaign) == 0
    assert api.balance(payer["token"], payer["account"]) == "50.00"
    # Below the coupon's minimum spend: refused with every reason, nothing held.
    small = pay(api, payer, "40.00", [code], "bill-poor-0002")
    assert small.status == 422 and small.code == "COUPONS_NOT_APPLICABLE"
    assert small.body["error"]["details"] == {code: ["BELOW_MIN_SPEND"]}
    assert api.balance(payer["token"], payer["account"]) == "50.00"


def test_malformed_coupon_codes_are_refused(api: Api, runtime: Any, aws: Any, teller: str, new_mobile: Any) -> None:
    payer = payer_with(api, teller, new_mobile, "200.00")
    for codes in ([], ["x"], ["AAAA-BBBB-CCC"] * 6, "AAAA-BBBB-CCC"):
        r = api.call("POST", "/v1/life/payments", {"biller_id": ELECTRIC, "customer_number": electric_number("1"),
                                                   "account_id": payer["account"], "amount": "120.00",
                                                   "coupon_codes": codes}, token=payer["token"], key="bill-bad-codes")
        assert r.status in (400, 422) and r.code == "VALIDATION_FAILED", (codes, r.status, r.body)
    assert api.balance(payer["token"], payer["account"]) == "200.00"


def test_another_customers_coupon_is_not_found(api: Api, runtime: Any, aws: Any, teller: str, new_mobile: Any,
                                               campaign: str) -> None:
    owner = payer_with(api, teller, new_mobile, "10.00")
    thief = payer_with(api, teller, new_mobile, "500.00")
    code = coupon_for(runtime, campaign, owner["customer"])
    r = pay(api, thief, "120.00", [code], "bill-thief-0001")
    assert r.status == 422 and r.body["error"]["details"] == {code: ["NOT_FOUND"]}
    assert coupon_item(code)["status"]["S"] == "assigned"
    assert api.balance(thief["token"], thief["account"]) == "500.00"


def test_a_failed_bill_gives_both_parts_and_the_coupon_back(api: Api, runtime: Any, aws: Any, teller: str,
                                                            new_mobile: Any, campaign: str) -> None:
    payer = payer_with(api, teller, new_mobile, "1000.00")
    code = coupon_for(runtime, campaign, payer["customer"])
    r = pay(api, payer, "200.00", [code], "bill-refund-0001", digit="9")  # the biller refuses this number
    assert r.status == 201 and r.body["discount"] == "10.00"
    pumps.pump(runtime, aws.queue_urls["BillerQueue"], "BillerDispatchFunction")
    pumps.fold(runtime)  # the settlement account's journal: until folded, the refund waits
    from tests.support.pumps import SCHEDULED

    runtime.invoke("BillerPollerFunction", SCHEDULED)
    done = order(api, payer["token"], r.body["order_no"])
    assert done["status"] == "refunded", done
    pumps.fold(runtime)
    assert api.balance(payer["token"], payer["account"]) == "1000.00"
    statement = [(e["kind"], e["direction"], e["amount"]) for e in api.statement(payer["token"], payer["account"])]
    assert statement[-2:] == [("capture", "debit", "190.00"), ("refund", "credit", "190.00")]
    refund = [legs for kind, legs in movements_with(GL_MARKETING) if kind == "refund"]
    assert len(refund) == 1 and (GL_MARKETING, "credit", 10_00) in refund[0]
    assert coupon_item(code)["status"]["S"] == "assigned" and redeem_budget_used(campaign) == 0
    # The poller again: nothing moves twice, the coupon's rollback is not repeated.
    runtime.invoke("BillerPollerFunction", SCHEDULED)
    assert len([k for k, _ in movements_with(GL_MARKETING) if k == "refund"]) == 1
    assert api.balance(payer["token"], payer["account"]) == "1000.00"
    # The coupon is the customer's again: a new payment uses it.
    again = pay(api, payer, "120.00", [code], "bill-refund-0002")
    assert again.status == 201 and again.body["discount"] == "10.00"


@pytest.mark.parametrize("route", ["worker", "callback"])
def test_the_worker_and_a_callback_give_the_coupon_back_too(api: Api, runtime: Any, aws: Any, teller: str,
                                                            new_mobile: Any, campaign: str, route: str) -> None:
    from infra import resources

    payer = payer_with(api, teller, new_mobile, "1000.00")
    code = coupon_for(runtime, campaign, payer["customer"])
    digit = "9" if route == "worker" else "7"  # 9: the biller refuses at once; 7: it never answers
    r = pay(api, payer, "150.00", [code], f"bill-back-{route}", digit=digit)
    assert r.status == 201 and r.body["discount"] == "10.00"
    pumps.fold(runtime)  # the settlement account holds the money: the refund goes through at once
    pumps.pump(runtime, aws.queue_urls["BillerQueue"], "BillerDispatchFunction")
    if route == "callback":
        secrets = boto3.client("ssm").get_parameter(Name=resources.parameter_name("LifeBillerSecretsParam"),
                                                    WithDecryption=True)["Parameter"]["Value"]
        answer = callback(api, biller_secret(secrets), r.body["order_no"], "failed", "150.00")
        assert answer.status == 200 and answer.body["status"] == "refunded", answer.body
    assert order(api, payer["token"], r.body["order_no"])["status"] == "refunded"
    assert coupon_item(code)["status"]["S"] == "assigned" and redeem_budget_used(campaign) == 0
    pumps.fold(runtime)
    assert api.balance(payer["token"], payer["account"]) == "1000.00"


def test_a_capture_refuses_a_plan_prepared_for_another_customer(api: Api, runtime: Any, aws: Any, teller: str,
                                                                 new_mobile: Any, campaign: str) -> None:
    payer = payer_with(api, teller, new_mobile, "300.00")
    other = payer_with(api, teller, new_mobile, "10.00")
    code = coupon_for(runtime, campaign, other["customer"])
    prepared = runtime.invoke("MarketingInternalFunction", {"operation": "prepare_redemption", "payload": {
        "customer_id": other["customer"], "channel": "app", "codes": [code], "amount": 120_00}})
    assert prepared["ok"], prepared

    def account(operation: str, **payload: Any) -> dict[str, Any]:
        reply: dict[str, Any] = runtime.invoke("AccountInternalFunction", {"operation": operation, "payload": payload})
        return reply

    destination = account("open_settlement_account", center="life", purpose="sh-electric")["result"]["account_id"]
    held = account("hold", caller="life", idempotency_key="steal-coupon-01", customer_id=payer["customer"],
                   account_id=payer["account"], amount="110.00", txn_type="bill_pay", channel="app",
                   destination=destination)
    assert held["ok"], held
    stolen = account("capture", hold_id=held["result"]["hold_id"], account_id=payer["account"],
                     destination=destination, redemption=prepared["result"])
    assert stolen["error"]["code"] == "HOLD_NOT_FOUND", stolen
    assert coupon_item(code)["status"]["S"] == "assigned"
    assert api.balance(payer["token"], payer["account"]) == "300.00"
