from __future__ import annotations

import pytest

from bank_common import authorizer, idempotency, tokens
from bank_common.errors import ApiError, IdempotencyKeyReused, Internal, to_api_error


def test_token_round_trip_and_channel_binding() -> None:
    token, ttl = tokens.issue(tokens.Principal("c1", "customer", channel="app", device_id="d1"))
    assert ttl == 900
    event = {"headers": {"Authorization": f"Bearer {token}", "X-Channel": "app"},
             "methodArn": "arn:aws:execute-api:ap-east-1:123:abc/prod/POST/v1/account/transfers"}
    policy = authorizer.handler(event)
    assert policy["principalId"] == "c1"
    assert policy["policyDocument"]["Statement"][0]["Resource"] == "arn:aws:execute-api:ap-east-1:123:abc/prod/*/*"
    assert tokens.Principal.from_context(policy["context"]).device_id == "d1"
    with pytest.raises(Exception, match="Unauthorized"):
        authorizer.handler({**event, "headers": {"Authorization": f"Bearer {token}", "X-Channel": "web"}})
    with pytest.raises(Exception, match="Unauthorized"):
        authorizer.handler({**event, "headers": {"Authorization": f"Basic {token}", "X-Channel": "app"}})


def test_staff_tokens_carry_roles() -> None:
    token, _ = tokens.issue(tokens.Principal("s1", "staff", roles=("teller",)))
    principal = tokens.verify(token)
    assert principal.roles == ("teller",) and principal.kind == "staff"


def test_idempotency_helpers() -> None:
    assert idempotency.request_hash("t", {"a": 1, "b": 2}) == idempotency.request_hash("t", {"b": 2, "a": 1})
    assert idempotency.request_hash("t", {"a": 1}) != idempotency.request_hash("u", {"a": 1})
    assert idempotency.replay("h", '{"x": 1}', "h") == {"x": 1}
    with pytest.raises(IdempotencyKeyReused):
        idempotency.replay("h", "{}", "other")
    for bad in (None, "", "short", "has space in it", "x" * 129):
        with pytest.raises(ApiError):
            idempotency.require_key(bad)


def test_unknown_exceptions_never_leak() -> None:
    error = to_api_error(KeyError("secret internals"))
    assert isinstance(error, Internal) and "secret" not in error.message
    assert error.body("r1") == {"error": {"code": "INTERNAL", "message": error.message, "request_id": "r1"}}
