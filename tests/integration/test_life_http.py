"""Bill payments over HTTP against the local run (DynamoDB Local, every function in its own workers, the
biller queue's poller, the scheduler firing the biller poller, the journal folded from its stream): the fake
biller answers through the queue worker, the statement shows the debit; a refusing biller refunds; a biller
that times out is settled by the poller; a signed callback settles an unanswered one."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.support.api import Api
from tests.support.figures import report
from tests.support.life import biller_secret, callback, electric_number, pay, wait_for


def new_mobile() -> str:
    return "139" + str(uuid.uuid4().int)[:8]


@pytest.fixture(scope="module")
def secrets(local_platform: Any) -> str:
    import boto3

    from infra import resources

    ssm = boto3.client("ssm", endpoint_url=local_platform.moto_url, region_name=local_platform.info["region"],
                       aws_access_key_id="local", aws_secret_access_key="local")
    name = resources.parameter_name("LifeBillerSecretsParam")
    return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])


@pytest.fixture
def payer(api: Api, teller: str) -> tuple[str, str]:
    token, account = api.customer_with_account(new_mobile())
    assert api.deposit(teller, account, "500.00").status == 201
    return token, account


def test_a_bill_paid_over_http_reaches_the_biller_and_the_statement(api: Api, payer) -> None:
    token, account = payer
    number = electric_number("1")
    bill = api.call("POST", "/v1/life/bills/query", {"biller_id": "sh-electric", "customer_number": number},
                    token=token)
    assert bill.status == 200, bill.body
    started = time.monotonic()
    paid = pay(api, token, account, bill.body["amount_due"], number)
    answered = time.monotonic() - started
    assert paid.status == 201 and paid.body["status"] in ("paid", "processing", "succeeded"), paid.body
    done = wait_for(api, token, paid.body["order_no"], ("succeeded",))
    assert done["status"] == "succeeded", done
    report(f"life (local run): a bill payment answered in {answered * 1000:.0f} ms (hold + capture + queue), "
           f"succeeded at the biller {time.monotonic() - started:.1f} s after the request (queue worker)")
    statement = api.statement(token, account)
    assert (statement[-1]["kind"], statement[-1]["direction"], statement[-1]["amount"]) == \
        ("capture", "debit", bill.body["amount_due"])


def test_a_refusing_biller_refunds_the_same_account_once(api: Api, payer) -> None:
    token, account = payer
    started = time.monotonic()
    paid = pay(api, token, account, "123.45", electric_number("9"))
    assert paid.status == 201, paid.body
    done = wait_for(api, token, paid.body["order_no"], ("refunded",), timeout=180)
    assert done["status"] == "refunded", done
    report(f"life (local run): a refused bill refunded {time.monotonic() - started:.1f} s after the request "
           "(at once if the settlement account's journal was folded, else by the next poller run)")
    kinds = [(e["kind"], e["direction"], e["amount"]) for e in api.statement(token, account)]
    assert kinds[-2:] == [("capture", "debit", "123.45"), ("refund", "credit", "123.45")]
    assert api.balance(token, account) == "500.00"


def test_a_timeout_is_settled_by_the_poller_and_an_unanswered_one_by_a_callback(api: Api, payer, secrets) -> None:
    token, account = payer
    late = pay(api, token, account, "20.00", electric_number("8"))
    silent = pay(api, token, account, "30.00", electric_number("7"))
    assert wait_for(api, token, silent.body["order_no"], ("processing",))["status"] == "processing"
    answered = callback(api, biller_secret(secrets), silent.body["order_no"], "succeeded", "30.00")
    assert answered.status == 200 and answered.body["status"] == "succeeded", answered.body
    assert wait_for(api, token, late.body["order_no"], ("succeeded",), timeout=150)["status"] == "succeeded"
    assert api.balance(token, account) == "450.00"
