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


def test_kyc_start_opens_a_rekognition_liveness_session(api: Api, runtime: Any, new_mobile: Any) -> None:
    """The StartKyc function on the Rekognition adapter (global regions): the liveness session it opens for the
    client, here from a recorded answer (moto has no Face Liveness)."""
    from botocore.stub import ANY, Stubber

    from bank_common import aws
    from tests.support.identity import customer as new_customer
    from user_center import kyc_adapters

    token = new_customer(api, new_mobile())["access_token"]
    runtime.envs["StartKycFunction"]["FACE_PROVIDER"] = "rekognition"
    kyc_adapters.face.cache_clear()
    stub = Stubber(aws.client("rekognition"))
    stub.add_response("create_face_liveness_session", {"SessionId": "0f959dbb-37cc-45d8-a08d-dc42cce85fa8"},
                      {"ClientRequestToken": ANY, "Settings": ANY})
    try:
        with stub:
            started = api.call("POST", "/v1/user/kyc", token=token)
    finally:
        runtime.envs["StartKycFunction"]["FACE_PROVIDER"] = "fake"
        kyc_adapters.face.cache_clear()
    assert started.status == 201 and started.body["liveness_session"] == "0f959dbb-37cc-45d8-a08d-dc42cce85fa8"
