"""Step-up on the money path over HTTP against the local run (DynamoDB Local, every function in its own
workers): the transfer's checks of tests/support/step_up_money.py, and raising one's own limit with and
without a step-up token."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support import identity
from tests.support.api import Api
from tests.support.step_up_money import check_one_token_one_transfer_in_a_race, check_step_up_transfers


def new_mobile() -> str:
    return "139" + str(uuid.uuid4().int)[:8]


@pytest.fixture(scope="module")
def tables(local_platform: Any) -> identity.Tables:
    return identity.local_tables(local_platform)


def test_a_transfer_from_the_threshold_needs_its_own_step_up_once(api: Api, teller: str,
                                                                 tables: identity.Tables) -> None:
    check_step_up_transfers(api, teller, new_mobile, tables)


def test_one_step_up_token_moves_money_once_in_a_race(api: Api, teller: str, tables: identity.Tables) -> None:
    check_one_token_one_transfer_in_a_race(api, teller, new_mobile, tables)


def test_raising_an_own_limit_needs_a_step_up_for_exactly_that(api: Api) -> None:
    mobile = new_mobile()
    api.register(mobile)
    token = api.login(mobile)
    assert api.call("PUT", "/v1/contract/limits/transfer", {"single_amount": "100.00"}, token=token).status == 200
    wanted = {"single_amount": "800.00"}
    without = api.call("PUT", "/v1/contract/limits/transfer", wanted, token=token)
    assert without.status == 403 and without.code == "STEP_UP_REQUIRED"
    step_up = api.step_up(token, mobile, {"operation": "limit_raise", "txn_type": "transfer", "limits": wanted})
    other = api.call("PUT", "/v1/contract/limits/transfer", {"single_amount": "900.00"}, token=token,
                     headers={"X-Step-Up-Token": step_up})
    assert other.status == 403 and other.code == "STEP_UP_INVALID"
    ok = api.call("PUT", "/v1/contract/limits/transfer", wanted, token=token, headers={"X-Step-Up-Token": step_up})
    assert ok.status == 200 and ok.body["own"]["single_amount"] == "800.00", ok.body
    assert api.call("PUT", "/v1/contract/limits/transfer", {"single_amount": "100.00"}, token=token).status == 200
    again = api.call("PUT", "/v1/contract/limits/transfer", wanted, token=token, headers={"X-Step-Up-Token": step_up})
    assert again.status == 409 and again.code == "STEP_UP_ALREADY_USED"
