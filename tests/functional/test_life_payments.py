"""The life center behind the gateway emulation (moto): bill queries, payments under holds, the biller queue,
signed callbacks, the poller, refunds, reconciliation; ownership, malformed input and races."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.support import pumps
from tests.support.api import Api, subject_of
from tests.support.life import ELECTRIC, TOPUP, biller_secret, callback, electric_number, order, pay
from tests.support.logs import captured_logs
from tests.support.pumps import SCHEDULED


@pytest.fixture
def secrets(aws) -> str:
    """The billers' shared secrets, where the functions read them (SSM)."""
    from infra import resources

    name = resources.parameter_name("LifeBillerSecretsParam")
    return str(boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


@pytest.fixture
def payer(api: Api, teller: str, new_mobile) -> dict[str, Any]:
    token, account = api.customer_with_account(new_mobile())
    assert api.deposit(teller, account, "1000.00").status == 201
    return {"token": token, "account": account, "customer": subject_of(token)}


def dispatch(runtime: Any, aws: Any) -> int:
    return pumps.pump(runtime, aws.queue_urls["BillerQueue"], "BillerDispatchFunction")


def poll(runtime: Any) -> dict[str, Any]:
    result: dict[str, Any] = runtime.invoke("BillerPollerFunction", SCHEDULED)
    return result


def age(order_no: str, hours: float) -> None:
    """Make an order look as if its last change (and its sending) was `hours` ago."""
    then = (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    boto3.client("dynamodb").update_item(
        TableName=pumps_table("LIFE_TABLE"), Key={"pk": {"S": f"ORDER#{order_no}"}, "sk": {"S": "ORDER"}},
        UpdateExpression="SET updated_at = :t, processing_since = :t", ExpressionAttributeValues={":t": {"S": then}})


def pumps_table(env_name: str) -> str:
    import os

    return os.environ[env_name]


def entries(api: Api, token: str, account: str) -> list[tuple[str, str, str]]:
    return [(e["kind"], e["direction"], e["amount"]) for e in api.statement(token, account)]


def test_billers_and_a_bill(api: Api, payer) -> None:
    listed = api.call("GET", "/v1/life/billers", token=payer["token"])
    assert listed.status == 200
    kinds = {b["biller_id"]: b["kind"] for b in listed.body["billers"]}
    assert kinds[ELECTRIC] == "electricity" and kinds[TOPUP] == "phone_topup"
    number = electric_number("1")
    bill = api.call("POST", "/v1/life/bills/query", {"biller_id": ELECTRIC, "customer_number": number},
                    token=payer["token"])
    assert bill.status == 200, bill.body
    assert "*" in bill.body["payee_name"] and bill.body["amount_due"].count(".") == 1
    again = api.call("POST", "/v1/life/bills/query", {"biller_id": ELECTRIC, "customer_number": number},
                     token=payer["token"])
    assert again.body == bill.body
    topup = api.call("POST", "/v1/life/bills/query", {"biller_id": TOPUP, "customer_number": "13812345678"},
                     token=payer["token"])
    assert topup.status == 200 and topup.body["amount_due"] is None and "50.00" in topup.body["denominations"]
    none = api.call("POST", "/v1/life/bills/query", {"biller_id": ELECTRIC, "customer_number": electric_number("4")},
                    token=payer["token"])
    assert none.status == 404 and none.code == "BILL_NOT_FOUND"


def test_bill_queries_are_counted_per_customer(api: Api, payer, new_mobile) -> None:
    body = {"biller_id": ELECTRIC, "customer_number": electric_number("1")}
    answers = [api.call("POST", "/v1/life/bills/query", body, token=payer["token"]).status for _ in range(60)]
    assert answers[:60] == [200] * 60
    limited = api.call("POST", "/v1/life/bills/query", body, token=payer["token"])
    assert limited.status == 429 and limited.code == "RATE_LIMITED" and int(limited.headers["retry-after"]) > 0
    other, _ = api.customer_with_account(new_mobile())
    assert api.call("POST", "/v1/life/bills/query", body, token=other).status == 200  # per customer


def test_a_paid_bill_reaches_the_biller_and_counts_for_the_caps(api: Api, runtime, aws, payer) -> None:
    r = pay(api, payer["token"], payer["account"], "120.50", electric_number("1"))
    assert r.status == 201, r.body
    assert r.body["status"] == "paid" and r.body["amount"] == "120.50" and r.body["business_date"]
    assert api.balance(payer["token"], payer["account"]) == "879.50"
    assert dispatch(runtime, aws) == 1
    done = order(api, payer["token"], r.body["order_no"])
    assert done["status"] == "succeeded" and done["biller_ref"].startswith("FB")
    assert entries(api, payer["token"], payer["account"])[-1] == ("capture", "debit", "120.50")
    usage = [i for i in pumps.table("LIMIT_USAGE_TABLE") if i["pk"]["S"].startswith(f"ACCT#{payer['account']}#OUT#")]
    assert usage and all(int(i["amount"]["N"]) == 120_50 for i in usage)  # Type II outflow: the bill counts
    assert dispatch(runtime, aws) == 0 and poll(runtime)["settled"] == 0


def test_same_key_replays_and_another_body_is_refused(api: Api, runtime, aws, payer) -> None:
    number = electric_number("1")
    first = pay(api, payer["token"], payer["account"], "30.00", number, key="bill-key-0001")
    again = pay(api, payer["token"], payer["account"], "30.00", number, key="bill-key-0001")
    assert first.status == again.status == 201 and again.body["order_no"] == first.body["order_no"]
    other = pay(api, payer["token"], payer["account"], "31.00", number, key="bill-key-0001")
    assert other.status == 422 and other.code == "IDEMPOTENCY_KEY_REUSED"
    assert api.balance(payer["token"], payer["account"]) == "970.00"


def test_eight_parallel_payments_with_one_key_move_money_once(api: Api, runtime, aws, payer) -> None:
    number = electric_number("1")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: pay(api, payer["token"], payer["account"], "45.00", number,
                                              key="bill-parallel-01"), range(8)))
    assert all(a.status == 201 for a in answers), [(a.status, a.body) for a in answers]
    assert len({a.body["order_no"] for a in answers}) == 1
    assert api.balance(payer["token"], payer["account"]) == "955.00"
    dispatch(runtime, aws)
    assert order(api, payer["token"], answers[0].body["order_no"])["status"] == "succeeded"
    assert [e for e in entries(api, payer["token"], payer["account"]) if e[0] == "capture"] == \
        [("capture", "debit", "45.00")]


def test_a_refused_bill_is_refunded_once_to_the_same_account(api: Api, runtime, aws, payer) -> None:
    r = pay(api, payer["token"], payer["account"], "200.00", electric_number("9"))
    assert r.status == 201
    dispatch(runtime, aws)
    # The biller's settlement account takes credits through its journal: until it is folded, the refund waits.
    status = order(api, payer["token"], r.body["order_no"])["status"]
    assert status in ("failed", "refunded")
    pumps.fold(runtime)
    poll(runtime)
    done = order(api, payer["token"], r.body["order_no"])
    assert done["status"] == "refunded" and done["reason"] == "account_closed"
    pumps.fold(runtime)
    assert api.balance(payer["token"], payer["account"]) == "1000.00"
    assert poll(runtime)["refunded"] == 0  # nothing left to refund
    moves = entries(api, payer["token"], payer["account"])
    assert moves[-2:] == [("capture", "debit", "200.00"), ("refund", "credit", "200.00")]
    usage = [i for i in pumps.table("LIMIT_USAGE_TABLE") if i["pk"]["S"].startswith(f"ACCT#{payer['account']}#OUT#")]
    assert all(int(i["amount"]["N"]) == 0 for i in usage)  # a refunded bill no longer counts


def test_a_timeout_stays_processing_until_the_poller_hears_the_answer(api: Api, runtime, aws, payer, secrets) -> None:
    r = pay(api, payer["token"], payer["account"], "80.00", electric_number("8"))
    dispatch(runtime, aws)
    assert order(api, payer["token"], r.body["order_no"])["status"] == "processing"
    assert api.balance(payer["token"], payer["account"]) == "920.00"  # never refunded blind
    assert poll(runtime)["settled"] >= 1
    assert order(api, payer["token"], r.body["order_no"])["status"] == "succeeded"
    # A late callback with the same answer changes nothing; another answer is a conflict.
    late = callback(api, biller_secret(secrets), r.body["order_no"], "succeeded", "80.00")
    assert late.status == 200 and late.body["status"] == "succeeded"
    conflict = callback(api, biller_secret(secrets), r.body["order_no"], "failed", "80.00")
    assert conflict.status == 409 and conflict.code == "RESULT_CONFLICT"


def test_a_timeout_then_failure_refunds(api: Api, runtime, aws, payer) -> None:
    r = pay(api, payer["token"], payer["account"], "60.00", electric_number("6"))
    dispatch(runtime, aws)
    assert order(api, payer["token"], r.body["order_no"])["status"] == "processing"
    pumps.fold(runtime)
    poll(runtime)
    assert order(api, payer["token"], r.body["order_no"])["status"] == "refunded"
    pumps.fold(runtime)
    assert api.balance(payer["token"], payer["account"]) == "1000.00"


def test_raced_callbacks_change_the_order_once(api: Api, runtime, aws, payer, secrets) -> None:
    r = pay(api, payer["token"], payer["account"], "75.00", electric_number("7"))
    dispatch(runtime, aws)
    assert order(api, payer["token"], r.body["order_no"])["status"] == "processing"
    pumps.fold(runtime)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: callback(api, biller_secret(secrets), r.body["order_no"], "failed",
                                                   "75.00"), range(8)))
    assert all(a.status == 200 for a in answers), [(a.status, a.body) for a in answers]
    poll(runtime)
    assert order(api, payer["token"], r.body["order_no"])["status"] == "refunded"
    pumps.fold(runtime)
    assert api.balance(payer["token"], payer["account"]) == "1000.00"
    assert [e for e in entries(api, payer["token"], payer["account"]) if e[0] == "refund"] == \
        [("refund", "credit", "75.00")]


def test_callbacks_are_signed_fresh_and_about_known_orders(api: Api, runtime, aws, payer, secrets) -> None:
    r = pay(api, payer["token"], payer["account"], "10.00", electric_number("7"))
    order_no = r.body["order_no"]
    dispatch(runtime, aws)
    forged = callback(api, "not-the-secret", order_no, "succeeded", "10.00")
    assert forged.status == 401 and forged.code == "BAD_SIGNATURE"
    stale = callback(api, biller_secret(secrets), order_no, "succeeded", "10.00", at=time.time() - 3600)
    assert stale.status == 401 and stale.code == "STALE_TIMESTAMP"
    unsigned = api.call("POST", f"/v1/life/callbacks/{ELECTRIC}", {"order_no": order_no, "status": "succeeded",
                                                                   "amount": "10.00", "biller_ref": "X1"}, channel=None)
    assert unsigned.status == 401 and unsigned.code == "SIGNATURE_REQUIRED"
    unknown = callback(api, biller_secret(secrets), "L" + "0" * 31, "succeeded", "10.00")
    assert unknown.status == 404 and unknown.code == "ORDER_NOT_FOUND"
    other_biller = callback(api, biller_secret(secrets, "sh-water"), order_no,
                            "succeeded", "10.00", biller="sh-water")
    assert other_biller.status == 404 and other_biller.code == "ORDER_NOT_FOUND"
    wrong_amount = callback(api, biller_secret(secrets), order_no, "succeeded", "11.00")
    assert wrong_amount.status == 422 and wrong_amount.code == "AMOUNT_MISMATCH"
    no_biller = callback(api, biller_secret(secrets), order_no, "succeeded", "10.00", biller="no-such-biller")
    assert no_biller.status == 404 and no_biller.code == "BILLER_NOT_FOUND"
    assert order(api, payer["token"], order_no)["status"] == "processing"
    ok = callback(api, biller_secret(secrets), order_no, "succeeded", "10.00")
    assert ok.status == 200 and ok.body == {"order_no": order_no, "status": "succeeded"}
    replay = callback(api, biller_secret(secrets), order_no, "succeeded", "10.00")
    assert replay.status == 200 and replay.body == ok.body  # a replay: the same answer


def test_another_customer_sees_nothing(api: Api, runtime, aws, payer, new_mobile) -> None:
    r = pay(api, payer["token"], payer["account"], "20.00", electric_number("1"))
    other_token, _ = api.customer_with_account(new_mobile())
    seen = api.call("GET", f"/v1/life/payments/{r.body['order_no']}", token=other_token)
    assert seen.status == 404 and seen.code == "ORDER_NOT_FOUND"
    stolen = pay(api, other_token, payer["account"], "20.00", electric_number("1"))
    assert stolen.status == 404 and stolen.code == "ACCOUNT_NOT_FOUND"
    assert api.balance(payer["token"], payer["account"]) == "980.00"
    assert api.call("GET", "/v1/life/payments/not-an-order", token=payer["token"]).status == 404


def test_malformed_and_refused_payments(api: Api, payer, teller) -> None:
    token, account = payer["token"], payer["account"]
    cases = [
        ({"biller_id": ELECTRIC, "customer_number": "0123456781", "account_id": account, "amount": 12.5}, 400,
         "INVALID_AMOUNT"),
        ({"biller_id": ELECTRIC, "customer_number": "12345", "account_id": account, "amount": "12.50"}, 422,
         "INVALID_CUSTOMER_NUMBER"),
        ({"biller_id": TOPUP, "customer_number": "13812345678", "account_id": account, "amount": "12.00"}, 422,
         "AMOUNT_NOT_ALLOWED"),
        ({"biller_id": "no-such-biller", "customer_number": "1", "account_id": account, "amount": "1.00"}, 404,
         "BILLER_NOT_FOUND"),
        ({"biller_id": ELECTRIC, "customer_number": "0123456781", "account_id": account, "amount": "5000.01"}, 422,
         "AMOUNT_NOT_ALLOWED"),
    ]
    for body, status, code in cases:
        r = api.call("POST", "/v1/life/payments", body, token=token, key="bill-" + str(status) + code.lower())
        assert (r.status, r.code) == (status, code), (body, r.body)
    assert api.call("POST", "/v1/life/payments", cases[1][0], token=token).code == "IDEMPOTENCY_KEY_REQUIRED"
    assert api.call("POST", "/v1/life/payments", raw="{", token=token, key="bill-broken-1").code == "MALFORMED_JSON"
    number = electric_number("1")
    poor = pay(api, token, account, "2000.00", number, key="bill-too-much-1")
    assert poor.status == 422 and poor.code == "INSUFFICIENT_FUNDS"
    again = pay(api, token, account, "2000.00", number, key="bill-too-much-1")
    assert again.status == 422 and again.code == "INSUFFICIENT_FUNDS"  # a refusal is the order's outcome too
    staff = api.call("GET", "/v1/life/billers", token=teller, channel="web")
    assert staff.status == 403


def test_an_unanswered_top_up_goes_to_review_after_72_hours_not_refunded(api: Api, runtime, aws, payer,
                                                                          secrets) -> None:
    r = pay(api, payer["token"], payer["account"], "50.00", "13812345677", biller=TOPUP)
    assert r.status == 201, r.body
    dispatch(runtime, aws)
    age(r.body["order_no"], 71)
    poll(runtime)
    assert order(api, payer["token"], r.body["order_no"])["status"] == "processing"
    age(r.body["order_no"], 73)
    assert poll(runtime)["review"] == 1
    found = order(api, payer["token"], r.body["order_no"])
    assert found["status"] == "review" and found["reason"] == "unanswered"
    assert api.balance(payer["token"], payer["account"]) == "950.00"
    # The biller's late answer still settles it.
    late = callback(api, biller_secret(secrets, TOPUP), r.body["order_no"],
                    "succeeded", "50.00", biller=TOPUP)
    assert late.status == 200 and late.body["status"] == "succeeded"


def test_a_paid_order_the_worker_never_took_is_sent_again(api: Api, runtime, aws, payer) -> None:
    r = pay(api, payer["token"], payer["account"], "15.00", electric_number("1"))
    sqs = boto3.client("sqs")
    sqs.purge_queue(QueueUrl=aws.queue_urls["BillerQueue"])  # the message was lost
    assert poll(runtime)["requeued"] == 0  # too recent to tell
    age(r.body["order_no"], 0.1)
    assert poll(runtime)["requeued"] == 1
    dispatch(runtime, aws)
    assert order(api, payer["token"], r.body["order_no"])["status"] == "succeeded"


PREPARED = "tests/fixtures/life/sh-electric-2026-11-27.csv"
PREPARED_ORDERS = [  # (order_no, status, amount in fen): ours on 2026-11-27
    ("L" + "1" * 31, "succeeded", 12050),  # matched
    ("L" + "2" * 31, "succeeded", 8000),  # 短款: the biller's file does not have it
    ("L" + "3" * 31, "refunded", 3000),  # 长款: the biller says succeeded, we refunded
    ("L" + "4" * 31, "succeeded", 5000),  # amount mismatch (the file says 50.50)
    ("L" + "5" * 31, "processing", 2000),  # doubtful: carried to T+2
    ("L" + "6" * 31, "refunded", 1000),  # failed on both sides: matched
]


def seed_order(order_no: str, status: str, amount: int, day: str) -> None:
    from life_center.models import Order

    Order(f"ORDER#{order_no}", "ORDER", order_no=order_no, status=status, customer_id="c-recon",
          account_id="6230000000", channel="app", biller_id=ELECTRIC, customer_number="0123456781", amount=amount,
          request_hash="-",
          created_at=f"{day}T02:00:00.000000Z", updated_at=f"{day}T02:00:00.000000Z", business_date=day,
          biller_date=f"{ELECTRIC}#{day}").save()


def test_reconciliation_of_a_prepared_file(api: Api, runtime, aws, ops, teller) -> None:
    from pathlib import Path

    for order_no, status, amount in PREPARED_ORDERS:
        seed_order(order_no, status, amount, "2026-11-27")
    boto3.client("s3").put_object(Bucket=aws["BILLER_FILES_BUCKET"], Key=f"{ELECTRIC}/2026-11-27.csv",
                                  Body=Path(PREPARED).read_bytes())
    ran = runtime.invoke("BillerReconcileFunction", {"biller_id": ELECTRIC, "business_date": "2026-11-27"})
    assert ran["status"] == "exceptions"
    r = api.call("GET", f"/v1/ops/life/reconciliations/{ELECTRIC}/2026-11-27", token=ops, channel="web")
    assert r.status == 200, r.body
    report = r.body
    assert report["counts"] == {"matched": 2, "short": 1, "long": 2, "amount_mismatch": 1, "doubtful": 1}
    by_order = {i["order_no"]: (i["category"], i["action"]) for i in report["items"]}
    assert by_order == {
        "L" + "2" * 31: ("short", "claim_from_biller"),
        "L" + "3" * 31: ("long", "recover_from_biller"),
        "L" + "4" * 31: ("amount_mismatch", "investigate"),
        "L" + "5" * 31: ("doubtful", "carry_to_t_plus_2"),
        "L" + "7" * 31: ("long", "recover_from_biller"),  # the biller has an order we never made
    }
    assert report["totals"] == {"file_lines": 6, "file_total_declared": "330.50", "file_total_computed": "330.50",
                                "file_total_ok": True, "biller_succeeded": "320.50", "ours_succeeded": "250.50",
                                "difference": "70.00"}
    assert report["carried_to"] == "2026-11-28" and report["status"] == "exceptions"
    # T+2: the doubtful order settled meanwhile; the next day's run resolves it against the line it had.
    boto3.client("dynamodb").update_item(
        TableName=aws["LIFE_TABLE"], Key={"pk": {"S": "ORDER#L" + "5" * 31}, "sk": {"S": "ORDER"}},
        UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "succeeded"}})
    boto3.client("s3").put_object(Bucket=aws["BILLER_FILES_BUCKET"], Key=f"{ELECTRIC}/2026-11-28.csv",
                                  Body=b"order_no,biller_ref,amount,status\nTOTAL,0,0.00\n")
    runtime.invoke("BillerReconcileFunction", {"biller_id": ELECTRIC, "business_date": "2026-11-28"})
    next_day = api.call("GET", f"/v1/ops/life/reconciliations/{ELECTRIC}/2026-11-28", token=ops, channel="web").body
    assert [(i["order_no"], i["category"]) for i in next_day["items"]] == [("L" + "5" * 31, "resolved")]
    assert next_day["status"] == "balanced"
    # Ops only; a day without a report is 404; a file that is missing is reported as such.
    assert api.call("GET", f"/v1/ops/life/reconciliations/{ELECTRIC}/2026-11-27", token=teller,
                    channel="web").status == 403
    missing = api.call("GET", f"/v1/ops/life/reconciliations/{ELECTRIC}/2026-01-01", token=ops, channel="web")
    assert missing.status == 404 and missing.code == "REPORT_NOT_FOUND"
    runtime.invoke("BillerReconcileFunction", {"biller_id": ELECTRIC, "business_date": "2026-01-02"})
    no_file = api.call("GET", f"/v1/ops/life/reconciliations/{ELECTRIC}/2026-01-02", token=ops, channel="web").body
    assert no_file["status"] == "file_missing"


def test_secrets_numbers_and_accounts_never_reach_the_logs(api: Api, runtime, aws, payer, secrets) -> None:
    """Every line as the log shipper would get it (the layer's JSON formatter, which masks), at DEBUG."""
    secret = biller_secret(secrets, TOPUP)
    with captured_logs() as stream:
        r = pay(api, payer["token"], payer["account"], "50.00", "13812345677", biller=TOPUP)
        dispatch(runtime, aws)  # times out: logged
        late = callback(api, secret, r.body["order_no"], "failed", "50.00", biller=TOPUP)
        forged = callback(api, "x" * 40, r.body["order_no"], "failed", "50.00", biller=TOPUP)
        assert late.status == 200 and forged.status == 401
    text = stream.getvalue()
    assert "biller timed out" in text and "pay_bill" in text  # the logs were captured
    for private in (secret, "13812345677", payer["account"]):
        assert private not in text
