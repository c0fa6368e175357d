"""Keys derived from a center's secret, and the few primitives built on them.

A center has one secret in SSM (a SecureString of random bytes, base64); each use gets its own key derived
with HKDF-SHA256 (`info` = the purpose), so an OTP digest key can never be used to open a sealed code, and
one secret is all operations have to rotate. Keyed hashes (HMAC-SHA256), not plain hashes, for anything with
few possible values (a 6-digit code has 10^6: a leaked table of plain hashes is reversed in seconds) and for
identifiers used as keys (ID numbers, device fingerprints).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import cache

from bank_common import config


@cache
def key(value_env: str, param_env: str, purpose: str) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    master = config.secret(value_env, param_env).strip().encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()).derive(master)


def reset() -> None:
    key.cache_clear()


def keyed_hash(secret: bytes, *parts: str) -> str:
    """HMAC-SHA256 of the parts (joined unambiguously), hex."""
    message = "\x1f".join(parts).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def seal(secret: bytes, plaintext: str, context: str) -> str:
    """AES-256-GCM with a random nonce; `context` is authenticated (a sealed value only opens where it was
    sealed for)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(secret).encrypt(nonce, plaintext.encode(), context.encode())).decode()


def unseal(secret: bytes, sealed: str, context: str) -> str:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    raw = base64.b64decode(sealed)
    return AESGCM(secret).decrypt(raw[:12], raw[12:], context.encode()).decode()
