"""The cross-center client: one center asks another to do something, JSON both ways.

The target center's internal function is invoked directly; its alias ARN comes from the env var
`INTERNAL_FN_<CENTER>` (set by the template). In AWS that is a Lambda Invoke; the local run serves the same
Invoke API; the functional tests hand in an invoker that runs the target function in-process. Either way
only JSON crosses, so a center can never reach into another's objects.

Two kinds of failure stay apart, because callers must treat them differently:
- the other center answered with a refusal: an ApiError with its stable code and status;
- no answer, or the function crashed or timed out: `CenterUnavailable` (503). The operation may or may not
  have happened over there, so the caller must not undo its own part as if it had not; a retry converges.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bank_common import config
from bank_common.errors import ApiError

Operation = Callable[[dict[str, Any]], dict[str, Any]]
InternalHandler = Callable[[dict[str, Any], Any], dict[str, Any]]
Invoker = Callable[[str, dict[str, Any]], Any]


class CenterUnavailable(ApiError):
    status, code = 503, "UPSTREAM_UNAVAILABLE"
    message = "Another part of the bank did not answer; retry the same request."


_local_invoker: Invoker | None = None


def set_local_invoker(invoker: Invoker | None) -> None:
    """Tests: run invoked functions in this process (`invoker(function_arn, event) -> reply`); it raises
    any exception for a crashed function."""
    global _local_invoker
    _local_invoker = invoker


def call(center: str, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    target = config.env(f"INTERNAL_FN_{center.upper()}")
    event = json.loads(json.dumps({"operation": operation, "payload": payload}))
    try:
        reply = _local_invoker(target, event) if _local_invoker else _invoke_lambda(target, event)
    except Exception as exc:  # noqa: BLE001 - timeouts, connection errors, crashes: the outcome is unknown
        raise CenterUnavailable(f"The {center} center did not answer ({type(exc).__name__}).") from exc
    if not isinstance(reply, dict):
        raise CenterUnavailable(f"The {center} center answered something unreadable.")
    if not reply.get("ok"):
        err = reply.get("error") or {}
        raise ApiError(err.get("message"), code=err.get("code", "INTERNAL"), status=int(err.get("status", 500)),
                       details=err.get("details"), headers=err.get("headers"))
    result: dict[str, Any] = reply.get("result") or {}
    return result


class FunctionFailed(Exception):
    """The invoked function raised or timed out (Lambda's FunctionError)."""


def _invoke_lambda(function_arn: str, event: dict[str, Any]) -> Any:
    from bank_common import aws

    response = aws.client("lambda").invoke(FunctionName=function_arn, Payload=json.dumps(event).encode())
    if response.get("FunctionError"):
        raise FunctionFailed(response["FunctionError"])
    return json.loads(response["Payload"].read())


def internal_handler(operations: dict[str, Operation]) -> InternalHandler:
    """A center's internal Lambda handler from its operations: `{"operation", "payload"}` in, the reply out."""

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        operation = operations.get(str(event.get("operation")))
        if operation is None:
            return {"ok": False, "error": {"code": "UNKNOWN_OPERATION", "status": 400,
                                           "message": f"unknown operation {event.get('operation')!r}"}}
        return reply(operation, event.get("payload") or {})

    return handle


def operation_handler(operation: Operation) -> InternalHandler:
    """The handler of a function that does one thing when invoked directly (the event is its payload)."""

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        return reply(operation, event if isinstance(event, dict) else {})

    return handle


def reply(operation: Operation, payload: dict[str, Any]) -> dict[str, Any]:
    """`{"ok": true, "result"}`, or the refusal as `{"ok": false, "error": {code, status, message}}`."""
    try:
        return {"ok": True, "result": operation(payload)}
    except ApiError as exc:
        error: dict[str, Any] = {"code": exc.code, "status": exc.status, "message": exc.message}
        if exc.details is not None:
            error["details"] = exc.details  # e.g. the challenge of a device that needs a code
        if exc.headers:
            error["headers"] = exc.headers  # e.g. Retry-After
        return {"ok": False, "error": error}
