"""The cross-center client: one center asks another to do something, JSON both ways.

In AWS the target center's internal function is invoked directly (its alias ARN comes from the env var
`INTERNAL_FN_<CENTER>`); locally and in tests an in-process registry is used, still passing JSON, so a
center can never reach into another's objects. Errors travel as their stable code and status.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from bank_common.errors import ApiError, Internal

Operation = Callable[[dict[str, Any]], dict[str, Any]]
InternalHandler = Callable[[dict[str, Any], Any], dict[str, Any]]

_registry: dict[str, InternalHandler] = {}


def register_local(center: str, handler: InternalHandler) -> None:
    """Local run and tests: route calls for `center` to its internal handler in this process."""
    _registry[center] = handler


def clear_local() -> None:
    _registry.clear()


def call(center: str, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    event = json.loads(json.dumps({"operation": operation, "payload": payload}))
    if center in _registry:
        reply = json.loads(json.dumps(_registry[center](event, None)))
    else:
        reply = _invoke_lambda(center, event)
    if not reply.get("ok"):
        err = reply.get("error") or {}
        raise ApiError(err.get("message"), code=err.get("code", "INTERNAL"), status=int(err.get("status", 500)))
    result: dict[str, Any] = reply.get("result") or {}
    return result


def _lambda_client() -> Any:
    from bank_common import aws

    return aws.client("lambda")


def _invoke_lambda(center: str, event: dict[str, Any]) -> dict[str, Any]:
    target = os.environ.get(f"INTERNAL_FN_{center.upper()}")
    if not target:
        raise Internal(f"no route to the {center} center")
    response = _lambda_client().invoke(FunctionName=target, Payload=json.dumps(event).encode())
    if response.get("FunctionError"):
        raise Internal(f"the {center} center failed")
    reply: dict[str, Any] = json.loads(response["Payload"].read())
    return reply


def internal_handler(operations: dict[str, Operation]) -> InternalHandler:
    """Build a center's internal Lambda handler from its operations (plain functions dict → dict)."""

    def handle(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        operation = operations.get(str(event.get("operation")))
        if operation is None:
            return {"ok": False, "error": {"code": "UNKNOWN_OPERATION", "status": 400,
                                           "message": f"unknown operation {event.get('operation')!r}"}}
        try:
            return {"ok": True, "result": operation(event.get("payload") or {})}
        except ApiError as exc:
            return {"ok": False, "error": {"code": exc.code, "status": exc.status, "message": exc.message}}

    return handle
