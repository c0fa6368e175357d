"""Thin-route plumbing for Chalice: one decorator that parses, authorizes, calls logic and shapes errors.

A route function receives a `Request` (validated body, caller, channel, request id, idempotency key,
path and query parameters) and returns a response struct (bank_common.schema) or dict; everything else
— JSON parsing, the X-Channel and Idempotency-Key rules, role checks, error mapping, the access log line, the request id
echo — happens here once. Route metadata is recorded for the OpenAPI document.
"""

from __future__ import annotations

import copy
import functools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import chalice
from chalice import Response

from bank_common import config, idempotency, obs, schema
from bank_common.errors import ApiError, Forbidden, MalformedJson, Unauthorized, UnknownChannel, to_api_error
from bank_common.principal import Principal


class Blueprint(chalice.Blueprint):
    """Chalice's Blueprint, registrable in more than one app (the center's own and the local composite).

    Chalice pops `methods` out of the kwargs it stored at decoration time when it registers a route, so
    a second registration would silently turn every route into GET; each registration gets a copy. And
    `current_request` is read from the app that is serving the call, not the last one registered.
    """

    def _register_handler(self, handler_type: str, name: str, user_handler: Any, wrapped_handler: Any,
                          kwargs: dict[str, Any], options: dict[Any, Any] | None = None) -> None:
        if handler_type != "route":
            super()._register_handler(handler_type, name, user_handler, wrapped_handler, kwargs, options)
            return

        def register(app: chalice.Chalice, opts: dict[Any, Any]) -> None:
            @functools.wraps(wrapped_handler)
            def bound(*args: Any, **kw: Any) -> Any:
                self._current_app = app  # current_request must come from the app serving this call
                return wrapped_handler(*args, **kw)

            app._register_handler(handler_type, name, user_handler, bound, copy.deepcopy(kwargs), opts)

        self._deferred_registrations.append(register)


@dataclass(frozen=True)
class RouteSpec:
    """What the OpenAPI document and the contract tests need to know about one route."""

    method: str
    path: str
    operation: str
    summary: str
    center: str
    status: int
    request_model: type | None
    response_model: type | None
    public: bool
    roles: tuple[str, ...]
    idempotent: bool
    errors: tuple[int, ...]
    query: tuple[str, ...] = ()


ROUTES: list[RouteSpec] = []


@dataclass
class Request:
    request_id: str
    channel: str | None
    principal: Principal | None
    body: Any
    path_params: dict[str, str]
    query: dict[str, str]
    headers: dict[str, str]
    idempotency_key: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def caller(self) -> Principal:
        if self.principal is None:
            raise Unauthorized()
        return self.principal


def route(bp: Blueprint, method: str, path: str, *, operation: str, summary: str, center: str,
          request_model: type | None = None, response_model: type | None = None,
          status: int = 200, public: bool = False, roles: tuple[str, ...] = (), customer_only: bool = False,
          idempotent: bool = False, errors: tuple[int, ...] = (), query: tuple[str, ...] = (),
          channel_required: bool = True) -> Callable[[Callable[[Request], Any]], Callable[..., Response]]:
    spec = RouteSpec(method, path, operation, summary, center, status, request_model, response_model,
                     public, roles, idempotent, errors, query)
    ROUTES.append(spec)

    def decorate(view: Callable[[Request], Any]) -> Callable[..., Response]:
        def chalice_view(**path_params: str) -> Response:
            started = time.perf_counter()
            raw = bp.current_request
            headers = {k.lower(): v for k, v in (raw.headers or {}).items()}
            request_id = _request_id(headers.get("x-request-id"))
            req: Request | None = None
            try:
                req = _build_request(raw, headers, request_id, path_params, spec, customer_only,
                                     channel_required)
                result = view(req)
                response = _json_response(spec.status, _dump(result), request_id)
            except Exception as exc:  # noqa: BLE001 - the one place exceptions become responses
                error = to_api_error(exc)
                if error.status >= 500:
                    obs.log().exception("unhandled error", extra={"operation": spec.operation,
                                                                   "request_id": request_id})
                response = _json_response(error.status, error.body(request_id), request_id)
            _access_log(spec, req, request_id, response.status_code, started)
            return response

        chalice_view.__name__ = f"{spec.operation}_view"
        chalice_view.__doc__ = view.__doc__
        content_types = ["application/json", "application/json; charset=utf-8", "text/plain"]
        bp.route(path, methods=[method], content_types=content_types, name=spec.operation)(chalice_view)
        return chalice_view

    return decorate


def _request_id(incoming: str | None) -> str:
    if incoming and 8 <= len(incoming) <= 64 and all(c.isalnum() or c in "-_" for c in incoming):
        return incoming
    return uuid.uuid4().hex


def _build_request(raw: Any, headers: dict[str, str], request_id: str, path_params: dict[str, str],
                   spec: RouteSpec, customer_only: bool, channel_required: bool) -> Request:
    channel = headers.get("x-channel")
    if channel_required and channel not in config.CHANNELS:
        raise UnknownChannel()
    principal = _principal(raw)
    if not spec.public:
        if principal is None:
            raise Unauthorized()
        if customer_only and principal.kind != "customer":
            raise Forbidden("Only customers may do this.")
        if spec.roles and (principal.kind != "staff" or not set(spec.roles) & set(principal.roles)):
            raise Forbidden(f"This needs one of the roles: {', '.join(spec.roles)}.")
    key = idempotency.require_key(headers.get("idempotency-key")) if spec.idempotent else None
    body = _parse_body(raw.raw_body, spec.request_model)
    return Request(request_id=request_id, channel=channel, principal=principal, body=body,
                   path_params=dict(path_params), query=dict(raw.query_params or {}), headers=headers,
                   idempotency_key=key)


def _principal(raw: Any) -> Principal | None:
    ctx = (raw.context or {}).get("authorizer") or {}
    if not ctx.get("subject"):
        return None
    return Principal.from_context(ctx)


def _parse_body(raw_body: bytes | None, model: type | None) -> Any:
    if model is None:
        return None
    try:
        data = json.loads(raw_body or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJson() from exc
    if not isinstance(data, dict):
        raise MalformedJson("The request body must be a JSON object.")
    return schema.decode(data, model)


def _dump(result: Any) -> Any:
    return result if isinstance(result, dict) else schema.to_builtins(result)


def _json_response(status: int, body: Any, request_id: str) -> Response:
    return Response(body=json.dumps(body, separators=(",", ":"), ensure_ascii=False), status_code=status,
                    headers={"Content-Type": "application/json", "X-Request-Id": request_id})


def _access_log(spec: RouteSpec, req: Request | None, request_id: str, status: int, started: float) -> None:
    principal = req.principal if req else None
    obs.log().info("request", extra={
        "request_id": request_id, "operation": spec.operation, "route": f"{spec.method} {spec.path}",
        "status": status, "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "channel": req.channel if req else None,
        "customer": _mask_subject(principal.subject) if principal else None,
    })
    obs.emit_metric("Requests", operation=spec.operation, status=str(status // 100) + "xx")


def _mask_subject(subject: str) -> str:
    return subject[:6] + "…" if len(subject) > 6 else "…"


def error_response(exc: ApiError, request_id: str | None = None) -> Response:
    """For code outside a route (middleware, local server) that must answer with the same error shape."""
    rid = request_id or uuid.uuid4().hex
    return _json_response(exc.status, exc.body(rid), rid)
