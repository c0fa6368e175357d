"""The local run's fallback where Java is missing (`--moto-dynamodb`): DynamoDB served by moto server,
one request at a time. The first slice and the replay rules hold there too; the money path's transport
(bank_common.dynamo_wire) talks to moto server over HTTP as it talks to DynamoDB Local."""

from __future__ import annotations

from typing import Any

from tests.live_platform import kyc_setter, running_platform
from tests.support.api import Api, check_first_slice, check_replay


def test_slice_and_replay_on_the_moto_fallback(new_mobile: Any) -> None:
    with running_platform("--moto-dynamodb") as platform:
        assert any("moto fallback" in line for line in platform.lines), platform.output()
        api = Api(base_url=platform.base_url, kyc=kyc_setter(platform))
        teller = api.staff_login(platform.staff_user, platform.staff_password)
        check_first_slice(api, teller, new_mobile)
        check_replay(api, teller, new_mobile)
