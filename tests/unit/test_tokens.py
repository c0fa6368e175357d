"""Access and step-up tokens (bank_common.tokens, bank_common.stepup) and the authorizer's refusals, with no
AWS: the keys come from the environment (a keyset or a PEM), the revocation state is handed in."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from bank_common import authorizer, revocation, stepup, tokens
from bank_common.errors import Unauthorized
from bank_common.principal import Principal

CUSTOMER = Principal("c-1", "customer", channel="app", device_id="phone-1", session_id="s-family-1")


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Two keys: `old` signing, both in the JWKS (a rotation half-way)."""
    old, _ = tokens.generate_keypair()
    new, _ = tokens.generate_keypair()
    keyset = tokens.keyset_document([old, new], active=0)
    monkeypatch.setenv("JWT_PRIVATE_KEY", keyset)
    monkeypatch.setenv("JWT_PUBLIC_KEY", tokens.jwks_from_keyset(keyset))
    tokens.reset()
    yield {"old": old, "new": new, "keyset": keyset}
    tokens.reset()


def headers(token: str, channel: str = "app", device: str = "phone-1") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "X-Channel": channel, "X-Device-Id": device}


def allow(state: revocation.State = revocation.State()) -> Any:
    return lambda subject: state


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tokens_carry_kid_sid_and_device(keys: dict[str, str]) -> None:
    token, _ = tokens.issue(CUSTOMER)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["kid"] == tokens.parse_keyset(keys["keyset"]).active
    principal = tokens.verify(token)
    assert (principal.session_id, principal.device_id, principal.channel) == ("s-family-1", "phone-1", "app")
    assert principal.issued_at_ms >= int(time.time() * 1000) - 5000


def test_rotation_keeps_old_tokens_valid_and_signs_with_the_new_key(keys: dict[str, str],
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    before, _ = tokens.issue(CUSTOMER)
    rotated = tokens.keyset_document([keys["old"], keys["new"]], active=1)
    monkeypatch.setenv("JWT_PRIVATE_KEY", rotated)
    tokens.reset()
    after, _ = tokens.issue(CUSTOMER)
    assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]
    assert tokens.verify(before).subject == tokens.verify(after).subject == "c-1"
    # Once the old key is retired from the JWKS, its tokens stop working.
    monkeypatch.setenv("JWT_PUBLIC_KEY", tokens.jwks_from_keyset(tokens.keyset_document([keys["new"]])))
    tokens.reset()
    with pytest.raises(Unauthorized):
        tokens.verify(before)
    assert tokens.verify(after).subject == "c-1"


def test_jwks_lists_public_keys_only(keys: dict[str, str]) -> None:
    document = tokens.jwks_document()
    assert len(document["keys"]) == 2
    for key in document["keys"]:
        assert set(key) == {"kty", "crv", "x", "kid", "alg", "use"} and key["crv"] == "Ed25519"
        assert "d" not in key


def test_alg_none_tampered_wrong_key_expired_and_kidless_tokens_are_refused(keys: dict[str, str]) -> None:
    good, _ = tokens.issue(CUSTOMER)
    head, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    kid = jwt.get_unverified_header(good)["kid"]
    forged_claims = {**claims, "sub": "c-2"}
    attacks = {
        "alg none": f"{b64({'alg': 'none', 'kid': kid})}.{b64(forged_claims)}.",
        "alg none, no signature part": f"{b64({'alg': 'none', 'kid': kid})}.{b64(forged_claims)}",
        "tampered payload": f"{head}.{b64(forged_claims)}.{signature}",
        "HS256 with the public key": jwt.encode(forged_claims, tokens.jwks_from_keyset(keys["keyset"]),
                                                algorithm="HS256", headers={"kid": kid}),
        "another key, our kid": jwt.encode(forged_claims, load_pem_private_key(
            tokens.generate_keypair()[0].encode(), None), algorithm="EdDSA", headers={"kid": kid}),
        "no kid": jwt.encode(claims, load_pem_private_key(keys["old"].encode(), None), algorithm="EdDSA"),
        "unknown kid": jwt.encode(claims, load_pem_private_key(keys["old"].encode(), None), algorithm="EdDSA",
                                  headers={"kid": "no-such-key"}),
        "expired": tokens.issue(CUSTOMER, ttl_seconds=-60)[0],
        "garbage": "not.a.token",
    }
    for name, token in attacks.items():
        with pytest.raises(Unauthorized):
            tokens.verify(token)
            pytest.fail(name)
        with pytest.raises(Unauthorized):
            authorizer.principal_for(headers(token), allow())


def test_a_step_up_token_is_no_access_token_and_vice_versa(keys: dict[str, str]) -> None:
    step, _ = stepup.issue(CUSTOMER, "sup_x", "transfer", stepup.request_hash("transfer", "a", "b", 100))
    with pytest.raises(Unauthorized):
        tokens.verify(step)
    access, _ = tokens.issue(CUSTOMER)
    with pytest.raises(stepup.StepUpInvalid):
        stepup.verify(access, CUSTOMER, "transfer", "a", "b", 100)


def test_authorizer_binds_channel_and_device_and_honours_revocation(keys: dict[str, str]) -> None:
    token, _ = tokens.issue(CUSTOMER)
    assert authorizer.principal_for(headers(token), allow()).subject == "c-1"
    for bad in (headers(token, channel="web"), headers(token, device="phone-2"),
                {k: v for k, v in headers(token).items() if k != "X-Device-Id"}):
        with pytest.raises(Unauthorized):
            authorizer.principal_for(bad, allow())
    ended_family = revocation.State(revoked_sids=frozenset({"s-family-1"}))
    with pytest.raises(Unauthorized):
        authorizer.principal_for(headers(token), allow(ended_family))
    issued = tokens.verify(token).issued_at_ms
    with pytest.raises(Unauthorized):  # revoke-all after the token was issued
        authorizer.principal_for(headers(token), allow(revocation.State(revoked_before_ms=issued + 1)))
    # ... but a token issued after a revoke-all is fine, and so is another family.
    assert authorizer.principal_for(headers(token), allow(revocation.State(revoked_before_ms=issued - 1)))
    other = revocation.State(revoked_sids=frozenset({"s-other"}))
    assert authorizer.principal_for(headers(token), allow(other)).session_id == "s-family-1"
    context = authorizer.principal_for(headers(token), allow()).context()
    assert context == {"subject": "c-1", "kind": "customer", "roles": "", "channel": "app", "device_id": "phone-1",
                       "auth_level": "L1", "session_id": "s-family-1"}


def test_staff_tokens_are_device_bound_but_not_channel_bound(keys: dict[str, str]) -> None:
    staff = Principal("s-1", "staff", roles=("teller",), device_id="desk-7", session_id="s-staff")
    token, _ = tokens.issue(staff)
    assert authorizer.principal_for(headers(token, channel="web", device="desk-7"), allow()).roles == ("teller",)
    with pytest.raises(Unauthorized):
        authorizer.principal_for(headers(token, channel="web", device="desk-8"), allow())


def test_revocation_items_parse() -> None:
    item = {"revoked_before": {"N": "1700000000000"}, "revoked_sids": {"SS": ["s1@1700", "s2@1800"]}}
    state = revocation.parse(item)
    assert state.revoked_before_ms == 1700000000000 and state.revoked_sids == {"s1", "s2"}
    assert revocation.parse(None) == revocation.State()
