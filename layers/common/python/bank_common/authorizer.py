"""The API Gateway Lambda authorizer (REQUEST type): verifies the bearer token and binds it to X-Channel.

Returns an IAM policy for the whole API stage (so API Gateway may cache it per token) and the
principal as the authorizer context, which handlers read back from `requestContext.authorizer`.
Raising "Unauthorized" makes API Gateway answer 401 (shaped by the template's GatewayResponses).
"""

from __future__ import annotations

from typing import Any

from bank_common import tokens
from bank_common.errors import Unauthorized


def header(headers: dict[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def principal_for(headers: dict[str, Any] | None) -> tokens.Principal:
    """The verified caller for these request headers, or Unauthorized."""
    auth = header(headers, "authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    principal = tokens.verify(token.strip())
    channel = header(headers, "x-channel")
    # A token is bound to the channel it was issued on; staff tokens are not channel-bound.
    if principal.kind == "customer" and channel != principal.channel:
        raise Unauthorized("The access token was issued for another channel.")
    return principal


def stage_arn(method_arn: str) -> str:
    # arn:aws:execute-api:region:acct:apiId/stage/METHOD/path → arn:...:apiId/stage/*/*
    parts = method_arn.split("/")
    return "/".join(parts[:2] + ["*", "*"]) if len(parts) >= 2 else method_arn


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    try:
        principal = principal_for(event.get("headers"))
    except Unauthorized as exc:
        raise Exception("Unauthorized") from exc  # noqa: TRY002 - API Gateway's contract for a 401
    return {
        "principalId": principal.subject,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow",
                           "Resource": stage_arn(event.get("methodArn", "*"))}],
        },
        "context": principal.context(),
    }
