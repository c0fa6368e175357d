"""bank_common.stepup as a money operation uses it: the step-up token is verified against the exact request,
and its single use is one more item of the money's own TransactWriteItems (a Put into the authentication
center's table with attribute_not_exists). Driven by direct calls on moto: a ledger record stands in for the
transfer's items (the account center's routes are not changed here)."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from bank_common import ddb, stepup
from bank_common.principal import Principal
from tests.support import identity
from tests.support.api import Api, device_of, token_claims


@pytest.fixture
def tables(aws: Any) -> identity.Tables:
    return identity.Tables(boto3.client("dynamodb"), aws.naming.prefix)


@pytest.fixture
def step_up_env(aws: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What a money function's template would give it: the auth center's table as STEP_UP_TABLE."""
    monkeypatch.setenv(stepup.TABLE_ENV, aws["AUTH_TABLE"])


def money_item(aws: Any, key: str, fail: bool = False) -> dict[str, Any]:
    """A stand-in for the transfer's own items: a ledger record put once (a failing condition when `fail`)."""
    return {"Put": {"TableName": aws["LEDGER_TABLE"], "Item": {"pk": {"S": f"TXN#test#{key}"}, "sk": {"S": "REC"}},
                    "ConditionExpression": "attribute_exists(pk)" if fail else "attribute_not_exists(pk)"}}


def pay(aws: Any, grant: stepup.Grant, fail: bool = False) -> None:
    try:
        ddb.transact_write([money_item(aws, uuid.uuid4().hex, fail), stepup.consume_item(grant)])
    except ddb.TransactionCancelled as exc:
        stepup.explain(exc.reasons[-1])
        raise


def caller_of(access_token: str) -> Principal:
    claims = token_claims(access_token)
    return Principal(claims["sub"], "customer", channel="app", device_id=claims["dev"], session_id=claims["sid"])


def test_a_step_up_token_pays_once_and_only_for_its_request(api: Api, aws: Any, new_mobile: Any,
                                                            step_up_env: None) -> None:
    mobile = new_mobile()
    tokens = identity.customer(api, mobile)
    caller = caller_of(tokens["access_token"])
    _, token = identity.step_up_token(api, mobile, tokens["access_token"])
    t = identity.TRANSFER
    # Not needed below the threshold; needed at or above it.
    assert stepup.require(None, caller, "transfer", t["from_account"], t["to_account"], 100) is None
    with pytest.raises(stepup.StepUpRequired):
        stepup.require(None, caller, "transfer", t["from_account"], t["to_account"], 800_000)
    # Another amount, payee, device, session or customer: not this token's request.
    for amount, to, who in ((800_001, t["to_account"], caller), (800_000, "6230000000000009", caller),
                            (800_000, t["to_account"], Principal(caller.subject, "customer", device_id="other",
                                                                 session_id=caller.session_id)),
                            (800_000, t["to_account"], Principal(caller.subject, "customer",
                                                                 device_id=caller.device_id, session_id="s-other")),
                            (800_000, t["to_account"], Principal("c-other", "customer", device_id=caller.device_id,
                                                                 session_id=caller.session_id))):
        with pytest.raises(stepup.StepUpInvalid):
            stepup.require(token, who, "transfer", t["from_account"], to, amount)
    grant = stepup.require(token, caller, "transfer", t["from_account"], t["to_account"], 800_000)
    assert grant is not None and grant.subject == caller.subject
    # A transaction refused for its own reasons consumes nothing: the token can still be used.
    with pytest.raises(ddb.TransactionCancelled):
        pay(aws, grant, fail=True)
    pay(aws, grant)
    with pytest.raises(stepup.StepUpAlreadyUsed):  # the same token again: the whole transaction is refused
        pay(aws, grant)
    used = [i for i in identity.Tables(boto3.client("dynamodb"), aws.naming.prefix).auth_items()
            if i["pk"]["S"] == f"STEPUP_USED#{grant.jti}"]
    assert len(used) == 1 and used[0]["subject"]["S"] == caller.subject
    assert device_of(mobile) == caller.device_id


def test_risk_raises_the_need_for_a_step_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STEP_UP_THRESHOLD_FEN", "100000")
    assert not stepup.required(99_999) and stepup.required(100_000)
    assert stepup.required(1, risk="elevated") and stepup.required(1, risk="high") and not stepup.required(1, "normal")
    assert stepup.request_hash("transfer", "a", "b", 100) != stepup.request_hash("transfer", "a", "b", 101)
    assert stepup.canonical_request("transfer", "a", "b", 100) == '{"amount":100,"from":"a","op":"transfer","to":"b"}'
