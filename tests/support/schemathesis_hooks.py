"""Schemathesis hooks for the run in tests/integration/test_schemathesis.py (loaded through SCHEMATHESIS_HOOKS).

Who calls what is read from the OpenAPI document itself: an operation's `security` names the kind of token
it takes (bank_common.openapi: `customer` or `staff`), a public operation has none. The tokens come from the
test through BANK_SCHEMATHESIS_TOKENS, a JSON object:

    {"customer": {"<channel>": "<access token issued on that channel>", ...}, "staff": "<teller token>",
     "bystander": {"<channel>": "<token>", ...}}

Operations that would leave the run's customer unable to pay go to another customer (`bystander`): setting
one's own limits (lowered at random, they would refuse every transfer that follows) and revoking an
agreement (the stateful phase signs the e-account agreement, then follows the `Revoke` link: without it
no money moves). Under the bystander's token the run's customer's agreements are someone else's: 404.

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
it does not take the other operations' customer with it; starting KYC gets one too (it needs a customer
not verified yet).

A share of the schema-valid transfers, account openings, bill payments and signatures is sent as a request that
should succeed (the run's own account to a payee, a small amount; a Type III account bound to the customer's Type
I; a bill the fake biller knows, paid from the run's account; the current version of an agreement), from
BANK_SCHEMATHESIS_SUCCEEDING (operationId -> body): generated, their values line up so rarely that a run could
leave the success paths and their response schemas untested.

Every response is also counted (operation × status × X-Channel) into the JSON file named by
BANK_SCHEMATHESIS_STATS, written when the run ends, for the test's summary and its checks that the run
really got through (some 2xx on every operation, on every channel).
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import random
import re
import threading
from collections import Counter
from typing import Any

import schemathesis

TOKENS: dict[str, Any] = json.loads(os.environ.get("BANK_SCHEMATHESIS_TOKENS") or "{}")
STATS_FILE = os.environ.get("BANK_SCHEMATHESIS_STATS")
BYSTANDER_OPERATIONS = {"set_own_limits", "revoke_agreement"}
# Ops' account actions never touch the run's own accounts (a frozen payer or payee refuses every transfer after
# it): schemathesis reuses account ids it saw in responses, so such a case is sent to a stand-in account.
PROTECT: dict[str, Any] = json.loads(os.environ.get("BANK_SCHEMATHESIS_PROTECT") or "{}")
OPS_ON_ACCOUNTS = {"freeze_account", "unfreeze_account", "close_account"}
# Requests that should succeed, by operation: a share of the schema-valid cases of operations whose success
# needs several generated values to line up (the caller's own account and a payee, an amount under the balance,
# the limits and the step-up threshold, no generated step-up token - which can never be valid) is sent as one.
SUCCEEDING: dict[str, Any] = json.loads(os.environ.get("BANK_SCHEMATHESIS_SUCCEEDING") or "{}")
SUCCEEDING_SHARE = 0.3
# The first few of them always: schema-valid cases of these operations are few in a whole run (the fuzzing phase
# draws nearly all of its cases for them in the negative mode), so a share alone could come out as none.
SUCCEEDING_FIRST = 3
_counts: Counter[tuple[str, int, str, str]] = Counter()
_lock = threading.Lock()
_succeeding_sent: Counter[str] = Counter()


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


@schemathesis.hook("before_call")
def sendable_headers(ctx: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """A generated header value outside Latin-1 cannot be sent (the HTTP client refuses it): send its UTF-8
    bytes, as a client that writes raw bytes would, so the API still sees the odd value. Every phase passes
    here (the coverage phase bypasses the map_* hooks)."""
    if case.headers:
        case.headers = {name: value.encode("utf-8").decode("latin-1") if isinstance(value, str)
                        and not _latin1(value) else value for name, value in case.headers.items()}


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


@schemathesis.auth(refresh_interval=None).apply_to(_takes_customer)
class CustomerToken:
    """The test customer's token for the channel the case is sent on."""

    def get(self, case: Any, ctx: Any) -> str:
        bystander = ctx.operation.definition.raw.get("operationId") in BYSTANDER_OPERATIONS
        by_channel: dict[str, str] = (TOKENS.get("sacrificial", {}).get(case.operation.label)
                                      or TOKENS["bystander" if bystander else "customer"])
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


@schemathesis.hook("before_call")
def protect_run_accounts(context: Any, case: Any, **kwargs: Any) -> None:
    """Ops' account actions (freeze, close, ...) go to stand-in accounts, never to the run's own ones."""
    if case.operation.definition.raw.get("operationId") not in OPS_ON_ACCOUNTS or not PROTECT:
        return
    params = case.path_parameters or {}
    if params.get("account_id") in PROTECT["accounts"]:
        closing = case.operation.definition.raw.get("operationId") == "close_account"
        case.path_parameters = {**params, "account_id": PROTECT["stand_in_closing" if closing else "stand_in"]}


@schemathesis.hook("before_call")
def some_succeed(context: Any, case: Any, **kwargs: Any) -> None:
    """A share of the schema-valid cases of SUCCEEDING's operations is sent as their succeeding body (a
    transfer's amount drawn small: under every limit and the step-up threshold), without a step-up token. The
    case stays schema-valid, so every check holds for it as for any other; negative cases go as generated."""
    good = SUCCEEDING.get(case.operation.definition.raw.get("operationId"))
    meta = getattr(case, "meta", None)
    if not good or meta is None or not meta.generation.mode.is_positive:
        return
    operation = case.operation.label
    with _lock:
        _succeeding_sent[operation] += 1
        first = _succeeding_sent[operation] <= SUCCEEDING_FIRST
    if not first and random.random() >= SUCCEEDING_SHARE:
        return
    body = dict(good)
    if "amount" in body:
        fen = random.randint(1, 500)
        body["amount"] = f"{fen // 100}.{fen % 100:02d}"
    case.body = body
    case.headers = {name: value for name, value in (case.headers or {}).items() if name.lower() != "x-step-up-token"}


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    channel = (case.headers or {}).get("X-Channel")
    code = ""
    if response.status_code >= 400:
        try:
            code = str(response.json().get("error", {}).get("code", ""))
        except Exception:  # noqa: BLE001 - not JSON: counted without a code
            code = "?"
    with _lock:
        _counts[(case.operation.label, response.status_code, channel if isinstance(channel, str) else "", code)] += 1


@atexit.register
def _write_stats() -> None:
    if STATS_FILE:
        with _lock:
            rows = [{"operation": op, "status": status, "channel": channel, "code": code, "count": n}
                    for (op, status, channel, code), n in sorted(_counts.items())]
        with open(STATS_FILE, "w", encoding="utf-8") as out:
            json.dump(rows, out)
