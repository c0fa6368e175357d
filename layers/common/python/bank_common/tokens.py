"""Signed tokens: EdDSA (Ed25519) JWTs with a key id (`kid`), verified with the public JWKS only.

Keys are a keyset, so a rotation never logs anyone out (docs/decisions/0013): the authentication center's
signing functions read an SSM SecureString `{"active": kid, "keys": {kid: PKCS8 PEM}}` and sign with the
active key; everything that verifies (the API authorizer, the step-up check of a money function) reads an
SSM String holding the public JWKS and picks the key by the token's `kid`. During a rotation both keys are
in the JWKS. Both are re-read every KEY_CACHE_SECONDS, and the JWKS at once (at most every
UNKNOWN_KID_REFRESH_SECONDS) when a token names a kid it does not know yet.

A bare PEM in either place (or in JWT_PRIVATE_KEY / JWT_PUBLIC_KEY, as the tests and benchmarks set them)
is a keyset of one key whose kid is its RFC 7638 thumbprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from bank_common import config
from bank_common.errors import Unauthorized
from bank_common.principal import Principal

__all__ = ["Principal", "issue", "verify", "generate_keypair", "sign", "decode", "jwks_document"]

ISSUER = "bank-middle-platform"
AUDIENCE = "channels"
ALGORITHM = "EdDSA"
ACCESS_KINDS = ("customer", "staff")
KEY_CACHE_SECONDS = 300
UNKNOWN_KID_REFRESH_SECONDS = 30
PRIVATE_ENV, PRIVATE_PARAM_ENV = "JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY_PARAM"
PUBLIC_ENV, PUBLIC_PARAM_ENV = "JWT_PUBLIC_KEY", "JWT_PUBLIC_KEY_PARAM"


@dataclass(frozen=True)
class SigningKeys:
    active: str
    keys: dict[str, Any]  # kid → Ed25519PrivateKey


class _Cached:
    """A value read from SSM (or the environment), kept for a while, re-read on demand at most so often."""

    def __init__(self, load: Any) -> None:
        self._load, self._lock = load, threading.Lock()
        self._value: Any = None
        self._at = 0.0

    def get(self, *, refresh: bool = False, min_age: float = 0.0) -> Any:
        now = time.monotonic()
        with self._lock:
            stale = self._value is None or now - self._at > KEY_CACHE_SECONDS
            if stale or (refresh and now - self._at >= min_age):
                self._value, self._at = self._load(), now
            return self._value

    def clear(self) -> None:
        with self._lock:
            self._value, self._at = None, 0.0


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw_public(public_key: Any) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return bytes(public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def thumbprint(public_key: Any) -> str:
    """RFC 7638 JWK thumbprint of an Ed25519 public key: its kid."""
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": _b64url(_raw_public(public_key))},
                           separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def public_jwk(public_key: Any) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(_raw_public(public_key)), "kid": thumbprint(public_key),
            "alg": ALGORITHM, "use": "sig"}


def parse_keyset(text: str) -> SigningKeys:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = load_pem_private_key(text.encode(), None)
        kid = thumbprint(key.public_key())
        return SigningKeys(kid, {kid: key})
    data = json.loads(text)
    keys = {str(kid): load_pem_private_key(str(pem).encode(), None) for kid, pem in data["keys"].items()}
    active = str(data["active"])
    if active not in keys:
        raise ValueError("the signing keyset's active kid has no key")
    return SigningKeys(active, keys)


def parse_jwks(text: str) -> dict[str, Any]:
    """kid → Ed25519PublicKey, from a JWKS document (or one PEM)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = load_pem_public_key(text.encode())
        return {thumbprint(key): key}
    out = {}
    for jwk in json.loads(text)["keys"]:
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not jwk.get("kid"):
            continue  # only Ed25519 keys with a kid verify our tokens
        raw = base64.urlsafe_b64decode(str(jwk["x"]) + "=" * (-len(str(jwk["x"])) % 4))
        out[str(jwk["kid"])] = Ed25519PublicKey.from_public_bytes(raw)
    return out


def keyset_document(private_pems: list[str], active: int = 0) -> str:
    """The SecureString value for these private keys, the `active`-th signing."""
    keys = {parse_keyset(pem).active: pem for pem in private_pems}
    return json.dumps({"active": list(keys)[active], "keys": keys}, sort_keys=True)


def jwks_from_keyset(text: str) -> str:
    """The public JWKS (the String parameter's value) that verifies every key of a keyset."""
    keyset = parse_keyset(text)
    return json.dumps({"keys": [public_jwk(key.public_key()) for key in keyset.keys.values()]}, sort_keys=True)


_signing = _Cached(lambda: parse_keyset(config.fetch_secret(PRIVATE_ENV, PRIVATE_PARAM_ENV)))
_jwks_text = _Cached(lambda: config.fetch_secret(PUBLIC_ENV, PUBLIC_PARAM_ENV))
_public = _Cached(lambda: parse_jwks(_jwks_text.get()))


def reset() -> None:
    for cached in (_signing, _jwks_text, _public):
        cached.clear()


def public_keys(refresh: bool = False) -> dict[str, Any]:
    if refresh:
        _jwks_text.get(refresh=True, min_age=UNKNOWN_KID_REFRESH_SECONDS)
        return dict(_public.get(refresh=True, min_age=UNKNOWN_KID_REFRESH_SECONDS))
    return dict(_public.get())


def jwks_document() -> dict[str, Any]:
    """The public JWKS as served by GET /v1/auth/jwks (PEM-configured keys rendered as JWKs)."""
    return {"keys": sorted((public_jwk(key) for key in public_keys().values()), key=lambda k: k["kid"])}


def sign(claims: dict[str, Any]) -> str:
    """Sign claims with the active key; the header names it (`kid`)."""
    import jwt  # here, not at the top: functions that never sign or verify skip ~15 ms of import

    keys = _signing.get()
    return jwt.encode(claims, keys.keys[keys.active], algorithm=ALGORITHM, headers={"kid": keys.active})


def issue(principal: Principal, ttl_seconds: int | None = None) -> tuple[str, int]:
    """An access token for the principal. A principal without a session family gets a fresh one (tokens
    made outside a login: the benchmarks, tests)."""
    ttl = ttl_seconds or config.settings().access_token_ttl_seconds
    now_ms = int(time.time() * 1000)
    now = now_ms // 1000
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": principal.subject, "iat": now, "nbf": now, "exp": now + ttl,
        "jti": uuid.uuid4().hex, "typ": principal.kind, "roles": list(principal.roles),
        "chn": principal.channel, "dev": principal.device_id, "acr": principal.auth_level,
        "sid": principal.session_id or "s" + secrets.token_hex(12), "iat_ms": now_ms,
    }
    return sign(claims), ttl


def decode(token: str, audience: str, required: tuple[str, ...]) -> dict[str, Any]:
    """Verified claims, or Unauthorized: EdDSA only (so never `alg: none` or an HMAC made with a public
    key), a kid we publish, our issuer, this audience, not expired, and every required claim present."""
    import jwt

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise Unauthorized("The token is malformed.") from exc
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str):
        raise Unauthorized("The token is not signed with a key of ours.")
    key = public_keys().get(kid) or public_keys(refresh=True).get(kid)
    if key is None:
        raise Unauthorized("The token is signed with a key we do not know.")
    try:
        claims: dict[str, Any] = jwt.decode(token, key, algorithms=[ALGORITHM], audience=audience, issuer=ISSUER,
                                            options={"require": ["exp", "iat", "sub", *required]}, leeway=5)
    except jwt.PyJWTError as exc:
        raise Unauthorized("The token is missing, malformed, expired or not ours.") from exc
    return claims


def verify(token: str) -> Principal:
    claims = decode(token, AUDIENCE, ("typ", "sid", "dev"))
    if claims["typ"] not in ACCESS_KINDS:
        raise Unauthorized()
    return Principal(subject=claims["sub"], kind=claims["typ"], roles=tuple(claims.get("roles", ())),
                     channel=claims.get("chn", ""), device_id=str(claims["dev"]),
                     auth_level=claims.get("acr", "L1"), session_id=str(claims["sid"]),
                     issued_at_ms=int(claims.get("iat_ms") or int(claims["iat"]) * 1000))


def generate_keypair() -> tuple[str, str]:
    """A fresh Ed25519 key pair as PEM strings (local run, tests, and `python -m infra.keys`)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public
