"""The API Gateway Lambda authorizer (REQUEST type): verifies the bearer token, binds it to X-Channel and
X-Device-Id, and refuses revoked sessions.

Its identity sources are Authorization, X-Channel and X-Device-Id, so API Gateway caches its answer per
token × channel × device (the template's `authorizerResultTtlInSeconds`, 30 s: a logout, a revoke-all or a
reused refresh token stops every access token of the session within that time; docs/decisions/0014).
On a cache miss it makes one consistent GetItem (bank_common.revocation), the only AWS call it may make.

It returns an IAM policy for the whole API stage (so API Gateway may cache it) and the principal as the
authorizer context — customer or staff id, kind, roles, channel, device, authentication level and session
family — which handlers read back from `requestContext.authorizer`. Raising "Unauthorized" makes API
Gateway answer 401 (shaped by the template's GatewayResponses).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bank_common import revocation, tokens
from bank_common.errors import Unauthorized

Revocations = Callable[[str], revocation.State]


def header(headers: dict[str, Any] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def principal_for(headers: dict[str, Any] | None, revocations: Revocations = revocation.read) -> tokens.Principal:
    """The verified caller for these request headers, or Unauthorized."""
    auth = header(headers, "authorization") or ""
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    principal = tokens.verify(token.strip())
    # A customer token is bound to the channel it was issued on; staff tokens are not channel-bound.
    if principal.kind == "customer" and header(headers, "x-channel") != principal.channel:
        raise Unauthorized("The access token was issued for another channel.")
    # Every token is bound to the device it was issued to: a copied token does not work from elsewhere.
    if header(headers, "x-device-id") != principal.device_id:
        raise Unauthorized("The access token was issued to another device.")
    if revocations(principal.subject).refuses(principal):
        raise Unauthorized("The session was ended.")
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
