"""Step-up authentication for money operations: a second factor for one exact request, used once.

How a money operation requires it (the account center's transfer, for instance):

    grant = stepup.require(req.headers.get("x-step-up-token"), req.caller, "transfer", body.from_account,
                           body.to_account, body.amount)            # None when the amount/risk needs none
    items = [...the money transaction's items...]
    if grant:
        items.append(stepup.consume_item(grant))                      # same TransactWriteItems
    try:
        ddb.transact_write(items)
    except ddb.TransactionCancelled as exc:
        stepup.explain(exc.reasons[-1] if grant else None)            # 409 STEP_UP_ALREADY_USED
        ...

- The client asks the authentication center for a challenge (POST /v1/auth/step-up) naming the exact
  request: operation, from, to, amount. The challenge is bound to the caller's session and device and to
  the SHA-256 of the canonical request (`request_hash`); a code texted to the customer satisfies it
  (POST /v1/auth/step-up/{id}/verify), which returns a step-up token: an EdDSA JWT of the same keyset
  (audience "step-up", so it is never an access token), living STEP_UP_TOKEN_TTL_SECONDS, carrying the
  request hash, the device, the session and a unique `jti`.
- `require` verifies it against the request actually made (another amount, payee or device is refused)
  with the public JWKS, as the authorizer does.
- Its single use is atomic WITH the money: `consume_item` is a Put of `STEPUP_USED#<jti>` with
  `attribute_not_exists` into the authentication center's table, carried in the money transaction (the
  same kind of exception to "a center writes only its own tables" as the limits module's usage counters,
  DESIGN 5). A replayed token cancels the whole transaction; a transaction refused for a business reason
  (insufficient funds) consumes nothing, so the token may be retried while it lives.

A money function that uses this names the auth center's table in STEP_UP_TABLE and may only PutItem there
with `dynamodb:LeadingKeys` `STEPUP_USED#*`, and reads the public JWKS parameter (JWT_PUBLIC_KEY_PARAM).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from bank_common import config, tokens
from bank_common.ddb import Cancellation, n, s
from bank_common.errors import Conflict, Forbidden
from bank_common.principal import Principal
from bank_common.schema import Meta, anchored

HEADER = "X-Step-Up-Token"
AUDIENCE = "step-up"
TABLE_ENV = "STEP_UP_TABLE"
USED_PREFIX = "STEPUP_USED#"
RISKY = frozenset({"elevated", "high"})
LEVEL = "L3"  # the authentication level (bank_common.limits.AUTH_LEVELS) of a request made with a step-up
LIMIT_RAISE = "limit_raise"  # the operation of raising one's own limits (the contract & limit center)

# The X-Step-Up-Token header as routes declare it (a compact JWS).
JWS = r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"
Token = Annotated[str, Meta(min_length=16, max_length=4096, pattern=anchored(JWS),
                            description="The step-up token for this exact request (POST /v1/auth/step-up, then "
                                        "its verify): single use, needed from the step-up threshold up.")]


class StepUpRequired(Forbidden):
    code = "STEP_UP_REQUIRED"
    message = ("This operation needs a second factor: ask POST /v1/auth/step-up for a challenge for this exact "
               "request, verify it, and send the step-up token in X-Step-Up-Token.")


class StepUpInvalid(Forbidden):
    code, message = "STEP_UP_INVALID", "The step-up token is not valid for this request, device or session."


class StepUpAlreadyUsed(Conflict):
    code, message = "STEP_UP_ALREADY_USED", "This step-up token was used already; ask for a new one."


@dataclass(frozen=True)
class Grant:
    jti: str
    subject: str
    expires_at: int


def threshold_fen() -> int:
    """Amounts from this one up need a step-up (STEP_UP_THRESHOLD_FEN; 5,000.00 CNY by default)."""
    return int(config.env("STEP_UP_THRESHOLD_FEN", "500000"))


def token_ttl_seconds() -> int:
    return int(config.env("STEP_UP_TOKEN_TTL_SECONDS", "300"))


def canonical_request(operation: str, from_account: str, to_account: str, amount_fen: int,
                      values: dict[str, int] | None = None) -> str:
    """The request as hashed: `values` (a limit raise's new limits) only when given, so a transfer's canonical
    form is what it always was."""
    request: dict[str, Any] = {"amount": int(amount_fen), "from": from_account, "op": operation, "to": to_account}
    if values is not None:
        request["values"] = {k: int(v) for k, v in values.items()}
    return json.dumps(request, separators=(",", ":"), sort_keys=True)


def request_hash(operation: str, from_account: str, to_account: str, amount_fen: int,
                 values: dict[str, int] | None = None) -> str:
    return hashlib.sha256(canonical_request(operation, from_account, to_account, amount_fen, values).encode()
                          ).hexdigest()


def limit_raise_hash(txn_type: str, values: dict[str, int]) -> str:
    """A limit raise's request: the transaction type and every new value (fen, or a count), none left out."""
    return request_hash(LIMIT_RAISE, txn_type, "", 0, values)


def required(amount_fen: int, risk: str = "normal") -> bool:
    return int(amount_fen) >= threshold_fen() or risk in RISKY


def issue(principal: Principal, challenge_id: str, operation: str, hashed_request: str) -> tuple[str, int]:
    """The step-up token for a satisfied challenge (signed by the authentication center)."""
    ttl = token_ttl_seconds()
    now = int(time.time())
    return tokens.sign({
        "iss": tokens.ISSUER, "aud": AUDIENCE, "sub": principal.subject, "iat": now, "nbf": now, "exp": now + ttl,
        "jti": uuid.uuid4().hex, "op": operation, "req": hashed_request, "dev": principal.device_id,
        "sid": principal.session_id, "chl": challenge_id,
    }), ttl


def verify(token: str, principal: Principal, operation: str, from_account: str, to_account: str,
           amount_fen: int) -> Grant:
    """The token's grant if it was issued to this caller, session and device for exactly this request."""
    return verify_hash(token, principal, operation, request_hash(operation, from_account, to_account, amount_fen))


def verify_hash(token: str, principal: Principal, operation: str, expected: str) -> Grant:
    """The token's grant if it was issued to this caller, session and device for the request hashed `expected`."""
    try:
        claims = tokens.decode(token, AUDIENCE, ("jti", "op", "req", "dev", "sid"))
    except Exception as exc:  # noqa: BLE001 - any malformed, expired or foreign token is simply not valid
        raise StepUpInvalid() from exc
    if (claims["sub"] != principal.subject or claims["dev"] != principal.device_id
            or claims["sid"] != principal.session_id or claims["op"] != operation or claims["req"] != expected):
        raise StepUpInvalid()
    return Grant(str(claims["jti"]), str(claims["sub"]), int(claims["exp"]))


def require(token: str | None, principal: Principal, operation: str, from_account: str, to_account: str,
            amount_fen: int, risk: str = "normal") -> Grant | None:
    """None when this request needs no step-up; else its verified grant (403 STEP_UP_REQUIRED without a
    token, 403 STEP_UP_INVALID with one that does not fit)."""
    if not required(amount_fen, risk):
        return None
    if not token:
        raise StepUpRequired(details={"operation": operation, "threshold": threshold_fen(), "header": HEADER})
    return verify(token, principal, operation, from_account, to_account, amount_fen)


def consume_item(grant: Grant) -> dict[str, Any]:
    """The TransactWriteItems Put that uses the grant up, to carry in the money transaction."""
    return {"Put": {
        "TableName": config.env(TABLE_ENV),
        "Item": {"pk": s(USED_PREFIX + grant.jti), "sk": s("-"), "subject": s(grant.subject),
                 "used_at": n(int(time.time() * 1000)), "expires_at": n(grant.expires_at + 86_400)},
        "ConditionExpression": "attribute_not_exists(pk)",
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


def explain(reason: Cancellation | None) -> None:
    """Raise 409 STEP_UP_ALREADY_USED if the consume item is what cancelled the transaction."""
    if reason is not None and reason.code == "ConditionalCheckFailed":
        raise StepUpAlreadyUsed()
