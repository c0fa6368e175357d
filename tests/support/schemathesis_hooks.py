"""Schemathesis hooks for the run in tests/integration/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

Who calls what is read from the OpenAPI document itself: an operation's `security` names the kind of token
it takes (bank_common.openapi: `customer` or `staff`), a public operation has none. The tokens come from the
test through BANK_SCHEMATHESIS_TOKENS, a JSON object:

    {"customer": {"<channel>": "<access token issued on that channel>", ...}, "staff": "<teller token>"}

A customer token is bound to the channel it was issued on, so the customer provider picks the token of the
X-Channel the case carries (schemathesis generates that header from its enum); a case whose X-Channel is
absent or not a channel (negative data) gets the `app` token and is refused by the authorizer, as it
should be. Staff tokens are not channel-bound. Both providers are uncached (`refresh_interval=None`):
the tokens outlive the run, and without a cache schemathesis never re-logs in and replays a request that
was meant to get its 401.

Every token is bound to a device as well: the providers also set X-Device-Id to the token's `dev` claim when
the case carries a well-formed one (a schema-valid case); a missing or malformed one (negative data) is left
as generated, for the authorizer to refuse. Operations that end sessions (logout, revoke-all, a password
change, unbinding a device) each get a customer of their own (`sacrificial` tokens by operation), so ending
it does not take the other operations' customer with it.

Every response is also counted (operation × status × X-Channel) into the JSON file named by
BANK_SCHEMATHESIS_STATS, written when the run ends, for the test's summary and its checks that the run
really got through (some 2xx on every operation, on every channel).
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import re
import threading
from collections import Counter
from typing import Any

import schemathesis

TOKENS: dict[str, Any] = json.loads(os.environ.get("BANK_SCHEMATHESIS_TOKENS") or "{}")
STATS_FILE = os.environ.get("BANK_SCHEMATHESIS_STATS")
_counts: Counter[tuple[str, int, str]] = Counter()
_lock = threading.Lock()


def _schemes(ctx: Any) -> set[str]:
    """The security schemes an operation accepts (empty: public)."""
    return {name for requirement in ctx.operation.definition.raw.get("security") or () for name in requirement}


def _takes_customer(ctx: Any) -> bool:
    return "customer" in _schemes(ctx)


def _takes_staff_only(ctx: Any) -> bool:
    return _schemes(ctx) == {"staff"}


DEVICE_ID = re.compile(r"^[A-Za-z0-9_:.-]{1,128}$")


def _bearer(case: Any, token: str) -> None:
    case.headers = case.headers or {}
    case.headers["Authorization"] = f"Bearer {token}"
    generated = case.headers.get("X-Device-Id")
    if isinstance(generated, str) and DEVICE_ID.match(generated):  # schema-valid: the token's own device
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        case.headers["X-Device-Id"] = claims["dev"]


@schemathesis.auth(refresh_interval=None).apply_to(_takes_customer)
class CustomerToken:
    """The test customer's token for the channel the case is sent on."""

    def get(self, case: Any, ctx: Any) -> str:
        by_channel: dict[str, str] = TOKENS.get("sacrificial", {}).get(case.operation.label) or TOKENS["customer"]
        channel = (case.headers or {}).get("X-Channel")
        return by_channel.get(channel, by_channel["app"]) if isinstance(channel, str) else by_channel["app"]

    def set(self, case: Any, data: str, ctx: Any) -> None:
        _bearer(case, data)


STAFF_ONLY = re.compile(r"^Staff only: ([a-z, ]+)\.")


def _roles(ctx: Any) -> set[str]:
    """The staff roles an operation's description names (bank_common.openapi writes "Staff only: <roles>.")."""
    found = STAFF_ONLY.match(str(ctx.operation.definition.raw.get("description") or ""))
    return {role.strip() for role in found.group(1).split(",")} if found else set()


@schemathesis.auth(refresh_interval=None).apply_to(_takes_staff_only)
class StaffToken:
    """The teller's token, or for operations only marketing staff may call, the marketer's (staff tokens are
    not bound to a channel)."""

    def get(self, case: Any, ctx: Any) -> str:
        if "marketing" in _roles(ctx) and TOKENS.get("marketing"):
            return str(TOKENS["marketing"])
        return str(TOKENS["staff"])

    def set(self, case: Any, data: str, ctx: Any) -> None:
        _bearer(case, data)


API_KEY = re.compile(r"^[A-Za-z0-9_-]{16,128}$")


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    """A schema-valid x-api-key becomes the key of the case's channel (the app's own); a missing or malformed
    one (negative data) goes as generated, for the gateway to refuse."""
    keys: dict[str, str] = TOKENS.get("api_keys") or {}
    generated = (case.headers or {}).get("x-api-key")
    if keys and isinstance(generated, str) and API_KEY.match(generated):
        channel = case.headers.get("X-Channel")
        case.headers["x-api-key"] = keys.get(channel, keys["app"]) if isinstance(channel, str) else keys["app"]


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    channel = (case.headers or {}).get("X-Channel")
    with _lock:
        _counts[(case.operation.label, response.status_code, channel if isinstance(channel, str) else "")] += 1


@atexit.register
def _write_stats() -> None:
    if STATS_FILE:
        with _lock:
            rows = [{"operation": op, "status": status, "channel": channel, "count": n}
                    for (op, status, channel), n in sorted(_counts.items())]
        with open(STATS_FILE, "w", encoding="utf-8") as out:
            json.dump(rows, out)
