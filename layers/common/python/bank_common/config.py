"""Configuration read lazily from the environment (never at import time).

Lambda sets the environment before the handler module loads, but tests and the local run change it
between cases, so every value is read through a cached function that tests can reset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta, timezone
from functools import cache

# Days and months for limits and statements are Asia/Shanghai calendar periods (UTC+8, no DST).
SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

CHANNELS = frozenset({"web", "app", "wechat_mp", "wechat_oa", "alipay_mp"})


class MissingSetting(RuntimeError):
    """A required environment variable is absent: a deployment error, reported as a 5xx."""


def env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise MissingSetting(f"environment variable {name} is not set")
    return value


def flag(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    stage: str
    center: str
    access_token_ttl_seconds: int
    refresh_token_ttl_seconds: int
    tracing_enabled: bool


@cache
def settings() -> Settings:
    return Settings(
        stage=os.environ.get("STAGE", "local"),
        center=os.environ.get("CENTER", "unknown"),
        access_token_ttl_seconds=int(os.environ.get("ACCESS_TOKEN_TTL_SECONDS", "900")),
        refresh_token_ttl_seconds=int(os.environ.get("REFRESH_TOKEN_TTL_SECONDS", "2592000")),
        # X-Ray only where a daemon listens (Lambda with active tracing): see docs/decisions/0003.
        tracing_enabled=flag("TRACING_ENABLED", default=bool(os.environ.get("AWS_XRAY_DAEMON_ADDRESS"))),
    )


def reset() -> None:
    """Forget cached settings and secrets (tests change the environment between cases)."""
    settings.cache_clear()
    _secret.cache_clear()


def reset_settings() -> None:
    """Forget cached settings only (the environment changed; the secrets did not)."""
    settings.cache_clear()


@cache
def _secret(value_env: str, param_env: str) -> str:
    return fetch_secret(value_env, param_env)


def fetch_secret(value_env: str, param_env: str) -> str:
    """A secret read now (no cache): from the environment (local run, tests) or from SSM (AWS). For values
    that change while a function lives (signing keys during a rotation), whose callers cache for a while."""
    direct = os.environ.get(value_env)
    if direct:  # a PEM may come with its newlines written as \n; a JSON document keeps its escapes
        return direct if direct.lstrip().startswith("{") else direct.replace("\\n", "\n")
    name = env(param_env)
    from bank_common import aws  # only where the secret lives in SSM (deployed stages)

    response = aws.client("ssm").get_parameter(Name=name, WithDecryption=True)
    return str(response["Parameter"]["Value"])


def secret(value_env: str, param_env: str) -> str:
    """A secret from the environment (local run, tests) or from an SSM SecureString (AWS)."""
    return _secret(value_env, param_env)
