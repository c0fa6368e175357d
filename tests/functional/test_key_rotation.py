"""A signing-key rotation with `python -m infra.keys` against SSM (moto) while the platform runs: every token,
signed before, during or after, keeps verifying until its key is retired; nobody is logged out."""

from __future__ import annotations

from typing import Any

import boto3
import jwt
import pytest

from infra import keys, resources
from infra.gateway import Gateway
from tests.conftest import REGION
from tests.support import identity
from tests.support.api import Api


def kid_of(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def fresh_keys() -> None:
    """The functions re-read keys every 5 minutes; here, at once (a new process would)."""
    from bank_common import tokens

    tokens.reset()


def test_rotation_logs_nobody_out(api: Api, aws: Any, new_mobile: Any) -> None:
    ssm = boto3.client("ssm")
    private_param, public_param = resources.signing_key_parameters()
    rotation = keys.Keys(ssm, private_param, public_param)
    old_kid = rotation.show()["active"]
    before = identity.customer(api, new_mobile())
    assert kid_of(before["access_token"]) == old_kid

    new_kid = rotation.add()
    fresh_keys()
    assert rotation.show() == {"active": old_kid, "signing_keys": sorted([old_kid, new_kid]),
                               "published": sorted([old_kid, new_kid])}
    published = api.call("GET", "/v1/auth/jwks", channel=None).body["keys"]
    assert sorted(k["kid"] for k in published) == sorted([old_kid, new_kid])
    with pytest.raises(keys.KeyError_):
        rotation.retire(old_kid)  # it still signs

    rotation.activate(new_kid)
    fresh_keys()
    during = identity.customer(api, new_mobile())
    assert kid_of(during["access_token"]) == new_kid
    assert identity.works(api, before["access_token"]) and identity.works(api, during["access_token"])

    rotation.retire(old_kid)
    fresh_keys()
    assert rotation.show()["published"] == [new_kid]
    assert identity.works(api, during["access_token"])
    # A token of the retired key no longer verifies (the authorizer's cache aside: a new gateway has none).
    fresh = Api(gateway=Gateway(api._gateway.runtime, stage="test", region=REGION))
    assert not identity.works(fresh, before["access_token"])
    assert identity.works(fresh, during["access_token"])


def test_a_first_deploy_gets_its_first_key_active(aws: Any) -> None:
    client = boto3.client("ssm")
    first = keys.Keys(client, "/bank/test/empty-keyset", "/bank/test/empty-jwks")
    kid = first.add()
    assert first.show() == {"active": kid, "signing_keys": [kid], "published": [kid]}


def test_the_cli_refuses_steps_that_would_break_tokens(aws: Any) -> None:
    lines: list[str] = []
    private_param, public_param = resources.signing_key_parameters()
    argv = ["--private", private_param, "--public", public_param]
    client = boto3.client("ssm")
    assert keys.main(["show", *argv], lines.append, lambda _: client) == 0
    active = keys.Keys(client, private_param, public_param).show()["active"]
    assert keys.main(["retire", active, *argv], lines.append, lambda _: client) == 2
    assert keys.main(["activate", "no-such-kid", *argv], lines.append, lambda _: client) == 2
    assert lines[-1].startswith("refused:") and "BEGIN" not in "".join(lines)
