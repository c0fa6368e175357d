"""Signed access tokens: EdDSA (Ed25519) JWTs, short-lived, verified with the public key only.

The private key lives in the authentication center's environment (SSM SecureString in AWS); every other
function, and the API authorizer, only ever sees the public key.
"""

from __future__ import annotations

import time
import uuid
from functools import cache
from typing import Any

from bank_common import config
from bank_common.errors import Unauthorized
from bank_common.principal import Principal

__all__ = ["Principal", "issue", "verify", "generate_keypair"]

ISSUER = "bank-middle-platform"
AUDIENCE = "channels"
ALGORITHM = "EdDSA"


@cache
def _private_key() -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    return load_pem_private_key(config.secret("JWT_PRIVATE_KEY", "JWT_PRIVATE_KEY_PARAM").encode(), None)


@cache
def _public_key() -> Any:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    return load_pem_public_key(config.secret("JWT_PUBLIC_KEY", "JWT_PUBLIC_KEY_PARAM").encode())


def reset() -> None:
    _private_key.cache_clear()
    _public_key.cache_clear()


def issue(principal: Principal, ttl_seconds: int | None = None) -> tuple[str, int]:
    ttl = ttl_seconds or config.settings().access_token_ttl_seconds
    now = int(time.time())
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": principal.subject, "iat": now, "nbf": now, "exp": now + ttl,
        "jti": uuid.uuid4().hex, "typ": principal.kind, "roles": list(principal.roles),
        "chn": principal.channel, "dev": principal.device_id, "acr": principal.auth_level,
    }
    import jwt  # here, not at the top: the auth center's other functions never sign or verify (~15 ms)

    return jwt.encode(claims, _private_key(), algorithm=ALGORITHM), ttl


def verify(token: str) -> Principal:
    import jwt

    try:
        claims = jwt.decode(token, _public_key(), algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "typ"]}, leeway=5)
    except jwt.PyJWTError as exc:
        raise Unauthorized("The access token is missing, malformed, expired or not ours.") from exc
    if claims["typ"] not in ("customer", "staff"):
        raise Unauthorized()
    return Principal(subject=claims["sub"], kind=claims["typ"], roles=tuple(claims.get("roles", ())),
                     channel=claims.get("chn", ""), device_id=claims.get("dev", ""),
                     auth_level=claims.get("acr", "L1"))


def generate_keypair() -> tuple[str, str]:
    """A fresh Ed25519 key pair as PEM strings (local run and tests; AWS keys are made by ops)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public
