"""The one mapping from exceptions to JSON error responses (DESIGN 4).

Every error a channel sees is `{"error": {"code", "message", "request_id"}}` with a stable code.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 400
    code = "BAD_REQUEST"
    message = "The request is not valid."
    # A money operation records an answer that `decides` under the caller's Idempotency-Key and replays it to
    # every retry (docs/decisions/0020): business refusals do; answers that decided nothing (bad input, a lost
    # race, an outage, a step-up still to be done) do not, so a retry may still go another way.
    decides = False

    def __init__(self, message: str | None = None, *, code: str | None = None, status: int | None = None,
                 details: Any = None, headers: dict[str, str] | None = None) -> None:
        self.message = message or type(self).message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details
        self.headers = headers or {}  # e.g. Retry-After on a lockout or a 503
        super().__init__(self.message)

    def body(self, request_id: str | None) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message, "request_id": request_id}
        if self.details is not None:
            error["details"] = self.details
        return {"error": error}


class ValidationFailed(ApiError):
    code, message = "VALIDATION_FAILED", "The request body does not match the schema."


class MalformedJson(ApiError):
    code, message = "MALFORMED_JSON", "The request body is not valid JSON."


class InvalidAmount(ApiError):
    code, message = "INVALID_AMOUNT", "Amounts are positive decimal strings with at most two places."


class UnsupportedMediaType(ApiError):
    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"
    message = "Request bodies are JSON: send Content-Type: application/json."


class UnknownChannel(ApiError):
    code, message = "UNKNOWN_CHANNEL", "X-Channel must be one of web, app, wechat_mp, wechat_oa, alipay_mp."


class IdempotencyKeyRequired(ApiError):
    code, message = "IDEMPOTENCY_KEY_REQUIRED", "This operation moves money: send an Idempotency-Key header."


class Unauthorized(ApiError):
    status, code, message = 401, "UNAUTHORIZED", "A valid access token is required."


class InvalidCredentials(ApiError):
    status, code, message = 401, "INVALID_CREDENTIALS", "The login name or password is wrong."


class Forbidden(ApiError):
    status, code, message = 403, "FORBIDDEN", "The caller may not do this."


class NotFound(ApiError):
    status, code, message = 404, "NOT_FOUND", "No such resource."
    decides = True


class Conflict(ApiError):
    status, code, message = 409, "CONFLICT", "The resource already exists or changed."


class IdempotencyInProgress(ApiError):
    status, code, message = 409, "IDEMPOTENCY_IN_PROGRESS", "A request with this key is still running."


class IdempotencyKeyReused(ApiError):
    status, code, message = 422, "IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used for another request."


class BusinessRuleViolation(ApiError):
    status, code = 422, "UNPROCESSABLE"
    decides = True


class InsufficientFunds(BusinessRuleViolation):
    code, message = "INSUFFICIENT_FUNDS", "The available balance is not enough."


class LimitExceeded(BusinessRuleViolation):
    code, message = "LIMIT_EXCEEDED", "The amount is over a transaction limit."


class RateLimited(ApiError):
    status, code, message = 429, "RATE_LIMITED", "Too many requests; slow down."


class Internal(ApiError):
    status, code, message = 500, "INTERNAL", "Something went wrong on our side."


def from_body(status: int, error: dict[str, Any]) -> ApiError:
    """The ApiError a recorded answer describes (a replayed refusal): same status, code, message, details."""
    decided = ApiError(str(error.get("message") or ""), code=str(error.get("code") or "BAD_REQUEST"),
                       status=status, details=error.get("details"))
    decided.decides = True
    return decided


def to_api_error(exc: BaseException) -> ApiError:
    """Turn any exception into the ApiError that describes it to the caller (never leaking internals)."""
    if isinstance(exc, ApiError):
        return exc
    return Internal()
