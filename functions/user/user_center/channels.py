"""Channel identity adapters: a WeChat or Alipay SDK's one-time code → who the user is on that channel.

- `WeChatMiniProgram`: `GET https://api.weixin.qq.com/sns/jscode2session` (appid, secret, js_code,
  grant_type=authorization_code) → openid, and unionid when the mini program is bound to the bank's WeChat
  Open Platform account.
- `WeChatOfficialAccount` (WeChat banking, web pages opened in WeChat): `GET .../sns/oauth2/access_token`
  (appid, secret, code, grant_type=authorization_code) → openid, unionid.
  WeChat answers errors as HTTP 200 with `errcode`/`errmsg` (40029: invalid code, 40163: code used, ...).
- `Alipay`: the open platform's gateway `https://openapi.alipay.com/gateway.do`, method
  `alipay.system.oauth.token` (grant_type=authorization_code, code) with the common parameters signed RSA2
  (SHA256withRSA over the sorted `key=value&...` string, the app's private key); the answer's
  `alipay_system_oauth_token_response` (user_id, or open_id for newer apps) is verified against Alipay's
  public key over its exact JSON text; `error_response` carries code/sub_code.
- `FakeChannelIdentities`: deterministic, for the local run and tests: the code `wx.<user>` is that WeChat
  user (one unionid across the mini program and the official account, one openid per app), `ali.<user>` an
  Alipay user; `invalid.*` is refused as a used or unknown code.

`CHANNEL_IDENTITY_PROVIDER` chooses vendor (default) or fake; the vendor credentials (app ids, secrets, the
Alipay keys) come from an SSM SecureString (CHANNEL_CREDENTIALS_PARAM).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol
from urllib.parse import urlencode

from bank_common import config
from bank_common.errors import ApiError, Unauthorized

WECHAT = "https://api.weixin.qq.com"
ALIPAY_GATEWAY = "https://openapi.alipay.com/gateway.do"
PROVIDERS = ("wechat_mp", "wechat_oa", "alipay_mp")


@dataclass(frozen=True)
class ChannelIdentity:
    provider: str  # wechat_mp | wechat_oa | alipay_mp
    subject: str  # openid (WeChat) or user id (Alipay)
    union_id: str | None = None  # WeChat unionid: the same person across the bank's WeChat apps


class CodeRejected(Unauthorized):
    code, message = "CHANNEL_CODE_INVALID", "The channel's code is invalid, expired or used; get a new one."


class ChannelUnavailable(ApiError):
    status, code, message = 503, "CHANNEL_UNAVAILABLE", "The channel's login service did not answer; retry."


class IdentityProvider(Protocol):
    def exchange(self, provider: str, code: str) -> ChannelIdentity: ...


class Http(Protocol):
    def request(self, method: str, url: str, **kwargs: Any) -> Any: ...


def _pool() -> Http:
    import urllib3

    return urllib3.PoolManager(retries=urllib3.Retry(total=1, backoff_factor=0.2), timeout=urllib3.Timeout(5.0))


def _json(response: Any) -> dict[str, Any]:
    if response.status >= 500:
        raise ChannelUnavailable()
    try:
        return dict(json.loads(response.data or b"{}"))
    except ValueError as exc:
        raise ChannelUnavailable("The channel answered something unreadable.") from exc


class WeChatMiniProgram:
    def __init__(self, appid: str, secret: str, http: Http | None = None) -> None:
        self.appid, self.secret, self.http = appid, secret, http or _pool()

    def exchange(self, provider: str, code: str) -> ChannelIdentity:
        query = urlencode({"appid": self.appid, "secret": self.secret, "js_code": code,
                           "grant_type": "authorization_code"})
        return _wechat_identity(provider, _json(self.http.request("GET", f"{WECHAT}/sns/jscode2session?{query}")))


class WeChatOfficialAccount:
    def __init__(self, appid: str, secret: str, http: Http | None = None) -> None:
        self.appid, self.secret, self.http = appid, secret, http or _pool()

    def exchange(self, provider: str, code: str) -> ChannelIdentity:
        query = urlencode({"appid": self.appid, "secret": self.secret, "code": code,
                           "grant_type": "authorization_code"})
        return _wechat_identity(provider, _json(self.http.request("GET", f"{WECHAT}/sns/oauth2/access_token?{query}")))


def _wechat_identity(provider: str, answer: dict[str, Any]) -> ChannelIdentity:
    if answer.get("errcode"):
        if int(answer["errcode"]) == -1:  # "system busy"
            raise ChannelUnavailable()
        raise CodeRejected(details={"channel_error": answer.get("errcode")})
    if not answer.get("openid"):
        raise ChannelUnavailable("The channel answered without an identity.")
    return ChannelIdentity(provider, str(answer["openid"]), str(answer["unionid"]) if answer.get("unionid") else None)


class Alipay:
    """alipay.system.oauth.token with RSA2 signatures (request signed, response verified)."""

    def __init__(self, app_id: str, private_key_pem: str, alipay_public_key_pem: str, http: Http | None = None,
                 clock: Any = time.time) -> None:
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

        self.app_id = app_id
        private_key, alipay_key = load_pem_private_key(private_key_pem.encode(), None), \
            load_pem_public_key(alipay_public_key_pem.encode())
        if not isinstance(private_key, rsa.RSAPrivateKey) or not isinstance(alipay_key, rsa.RSAPublicKey):
            raise ValueError("Alipay's RSA2 needs RSA keys")
        self.private_key, self.alipay_key = private_key, alipay_key
        self.http, self.clock = http or _pool(), clock

    @staticmethod
    def signing_string(params: dict[str, str]) -> str:
        """Every non-empty parameter but `sign`, sorted by name, as key=value joined by & (not URL-encoded)."""
        return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if v != "" and k != "sign")

    def sign(self, params: dict[str, str]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        signature = self.private_key.sign(self.signing_string(params).encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def verify(self, content: str, signature: str) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            self.alipay_key.verify(base64.b64decode(signature), content.encode(), padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError):
            return False
        return True

    def request_params(self, code: str) -> dict[str, str]:
        stamp = datetime.fromtimestamp(self.clock(), config.SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")
        params = {"app_id": self.app_id, "method": "alipay.system.oauth.token", "format": "JSON",
                  "charset": "utf-8", "sign_type": "RSA2", "timestamp": stamp, "version": "1.0",
                  "grant_type": "authorization_code", "code": code}
        params["sign"] = self.sign(params)
        return params

    def exchange(self, provider: str, code: str) -> ChannelIdentity:
        response = self.http.request("POST", ALIPAY_GATEWAY, body=urlencode(self.request_params(code)).encode(),
                                     headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"})
        if response.status >= 500:
            raise ChannelUnavailable()
        raw = (response.data or b"").decode("utf-8")
        answer = json.loads(raw or "{}")
        if "error_response" in answer:
            error = answer["error_response"]
            if str(error.get("code")) in ("20000", "20001"):  # service unavailable / overloaded
                raise ChannelUnavailable()
            raise CodeRejected(details={"channel_error": error.get("sub_code") or error.get("code")})
        content = _raw_member(raw, "alipay_system_oauth_token_response")
        if content is None or not self.verify(content, str(answer.get("sign", ""))):
            raise ChannelUnavailable("The channel's answer failed its signature check.")
        body = answer["alipay_system_oauth_token_response"]
        subject = body.get("user_id") or body.get("open_id")
        if not subject:
            raise ChannelUnavailable("The channel answered without an identity.")
        return ChannelIdentity(provider, str(subject))


def _raw_member(raw: str, name: str) -> str | None:
    """The exact JSON text of a top-level object member (what Alipay signs), without re-serializing it."""
    found = re.search(rf'"{re.escape(name)}"\s*:\s*', raw)
    if not found:
        return None
    start = found.end()
    decoder = json.JSONDecoder()
    _, end = decoder.raw_decode(raw, start)
    return raw[start:end]


class FakeChannelIdentities:
    """Deterministic identities for the local run and tests (see the module's docstring)."""

    def exchange(self, provider: str, code: str) -> ChannelIdentity:
        kind, _, user = code.partition(".")
        if kind == "invalid" or not user:
            raise CodeRejected(details={"channel_error": 40029})
        digest = lambda *parts: hashlib.sha256("|".join(parts).encode()).hexdigest()  # noqa: E731
        if provider in ("wechat_mp", "wechat_oa") and kind == "wx":
            return ChannelIdentity(provider, "o" + digest(provider, user)[:27], "u" + digest("union", user)[:27])
        if provider == "alipay_mp" and kind == "ali":
            return ChannelIdentity(provider, "2088" + str(int(digest("alipay", user), 16))[:12])
        raise CodeRejected(details={"channel_error": "wrong channel"})


class VendorIdentities:
    """The real adapters, one per channel, from the credentials in SSM."""

    def __init__(self, credentials: dict[str, Any]) -> None:
        self.adapters: dict[str, IdentityProvider] = {}
        if "wechat_mp" in credentials:
            self.adapters["wechat_mp"] = WeChatMiniProgram(**credentials["wechat_mp"])
        if "wechat_oa" in credentials:
            self.adapters["wechat_oa"] = WeChatOfficialAccount(**credentials["wechat_oa"])
        if "alipay_mp" in credentials:
            self.adapters["alipay_mp"] = Alipay(**credentials["alipay_mp"])

    def exchange(self, provider: str, code: str) -> ChannelIdentity:
        adapter = self.adapters.get(provider)
        if adapter is None:
            raise ChannelUnavailable(f"{provider} logins are not configured.")
        return adapter.exchange(provider, code)


@cache
def identities() -> IdentityProvider:
    if os.environ.get("CHANNEL_IDENTITY_PROVIDER", "vendor") == "fake":
        return FakeChannelIdentities()
    return VendorIdentities(json.loads(config.secret("CHANNEL_CREDENTIALS", "CHANNEL_CREDENTIALS_PARAM")))
