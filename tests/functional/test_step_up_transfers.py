"""Step-up on the transfer route (in-process): tests/support/step_up_money.py's checks; the same run over HTTP
against the local run in tests/integration/test_step_up_http.py."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.support import identity
from tests.support.api import Api
from tests.support.step_up_money import check_one_token_one_transfer_in_a_race, check_step_up_transfers


@pytest.fixture
def tables(aws: Any) -> identity.Tables:
    return identity.Tables(boto3.client("dynamodb"), aws.naming.prefix)


def test_a_transfer_from_the_threshold_needs_its_own_step_up_once(api: Api, teller: str, new_mobile: Any,
        tables: identity.Tables) -> None:
    check_step_up_transfers(api, teller, new_mobile, tables)


def test_one_step_up_token_moves_money_once_in_a_race(api: Api, teller: str, new_mobile: Any,
        tables: identity.Tables) -> None:
    check_one_token_one_transfer_in_a_race(api, teller, new_mobile, tables)
