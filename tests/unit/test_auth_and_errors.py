from __future__ import annotations

import pytest

from bank_common import authorizer, idempotency, revocation, tokens
from bank_common.errors import ApiError, IdempotencyKeyReused, Internal, to_api_error


def test_token_round_trip_and_channel_binding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(revocation, "read", lambda subject: revocation.State())  # nothing revoked (no AWS here)
    token, ttl = tokens.issue(tokens.Principal("c1", "customer", channel="app", device_id="d1"))
    assert ttl == 900
    event = {"headers": {"Authorization": f"Bearer {token}", "X-Channel": "app", "X-Device-Id": "d1"},
             "methodArn": "arn:aws:execute-api:ap-east-1:123:abc/prod/POST/v1/account/transfers"}
    monkeypatch.setattr(authorizer, "principal_for",
                        lambda headers, revocations=None: original(headers, lambda subject: revocation.State()))
    policy = authorizer.handler(event)
    assert policy["principalId"] == "c1"
    assert policy["policyDocument"]["Statement"][0]["Resource"] == "arn:aws:execute-api:ap-east-1:123:abc/prod/*/*"
    assert tokens.Principal.from_context(policy["context"]).device_id == "d1"
    for headers in ({"Authorization": f"Bearer {token}", "X-Channel": "web", "X-Device-Id": "d1"},
                    {"Authorization": f"Basic {token}", "X-Channel": "app", "X-Device-Id": "d1"},
                    {"Authorization": f"Bearer {token}", "X-Channel": "app", "X-Device-Id": "d2"},
                    {"Authorization": f"Bearer {token}", "X-Channel": "app"}):
        with pytest.raises(Exception, match="Unauthorized"):
            authorizer.handler({**event, "headers": headers})


original = authorizer.principal_for


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
