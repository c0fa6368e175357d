"""The user center's customer routes on moto (the same checks run over HTTP in tests/integration)."""

from __future__ import annotations

from typing import Any

from tests.support import customer
from tests.support.api import Api


def test_profile_is_masked_and_editable(api: Api, new_mobile: Any) -> None:
    customer.check_profile_is_masked_and_editable(api, new_mobile)


def test_notification_preferences(api: Api, new_mobile: Any) -> None:
    customer.check_notification_preferences(api, new_mobile)


def test_addresses_belong_to_their_customer(api: Api, new_mobile: Any) -> None:
    customer.check_addresses_belong_to_their_customer(api, new_mobile)


def test_the_risk_questionnaire(api: Api, new_mobile: Any) -> None:
    customer.check_the_risk_questionnaire(api, new_mobile)


def test_channel_identities(api: Api, new_mobile: Any) -> None:
    customer.check_channel_identities(api, new_mobile)


def test_kyc(api: Api, new_mobile: Any) -> None:
    customer.check_kyc(api, new_mobile)
