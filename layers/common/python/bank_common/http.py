"""Thin-route plumbing for Chalice: one decorator that parses, authorizes, calls logic and shapes errors.

A route function receives a `Request` (validated body, caller, channel, request id, idempotency key,
path and query parameters) and returns a response struct (bank_common.schema) or dict; everything else
— JSON parsing, the X-Channel and Idempotency-Key rules, role checks, error mapping, the access log line, the request id
echo — happens here once. Route metadata is recorded for the OpenAPI document.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response

from bank_common import config, idempotency, obs, schema
from bank_common.errors import (
    ApiError,
    Forbidden,
    IdempotencyKeyRequired,
    MalformedJson,
    NotFound,
    Unauthorized,
    UnknownChannel,
    UnsupportedMediaType,
    ValidationFailed,
    to_api_error,
)
from bank_common.principal import Principal


@dataclass(frozen=True)
class Link:
    """What a success response makes possible next (an OpenAPI link): the target operation, its parameters
    (by name) and request body fields, each a runtime expression such as "$response.body#/account_id" or
    "$request.body#/mobile"."""

    operation: str
    description: str
    parameters: tuple[tuple[str, str], ...] = ()
    body: tuple[tuple[str, str], ...] = ()

    @classmethod
    def to(cls, operation: str, description: str, *, parameters: dict[str, str] | None = None,
           body: dict[str, str] | None = None) -> Link:
        return cls(operation, description, tuple((parameters or {}).items()), tuple((body or {}).items()))


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
    query: tuple[tuple[str, Any], ...] = ()  # (name, msgspec type): validated, converted, documented
    path_params: tuple[tuple[str, Any], ...] = ()  # (name, msgspec type): a value that does not fit is a 404
    headers: tuple[tuple[str, Any], ...] = ()  # (name, msgspec type or Required(type)): validated, documented
    customer_only: bool = False
    links: tuple[tuple[str, Link], ...] = ()  # (name, link) from the success response
    channel_required: bool = True  # every channel route needs X-Channel; a few public ones (JWKS) do not
    response_headers: tuple[tuple[str, str], ...] = ()  # added to the success response (e.g. Cache-Control)
    description: str = ""  # what the document says beyond the summary (rules a caller must know)


ROUTES: list[RouteSpec] = []


@dataclass(frozen=True)
class Required:
    """A header the route cannot do without (`headers={"X-Device-Id": Required(DeviceId)}`): its absence is a
    400 before the view runs, and the document says it is required."""

    kind: Any


def header_kind(kind: Any) -> tuple[Any, bool]:
    """(msgspec type, required) of a route's header declaration."""
    return (kind.kind, True) if isinstance(kind, Required) else (kind, False)


@dataclass
class Request:
    request_id: str
    channel: str | None
    principal: Principal | None
    body: Any
    path_params: dict[str, str]
    query: dict[str, Any]  # only the route's declared parameters, converted to their types
    headers: dict[str, str]
    idempotency_key: str | None = None
    source_ip: str = ""  # API Gateway's requestContext.identity.sourceIp (flow control per IP)
    raw_body: bytes = b""  # the body as it came (what a signed callback's signature covers)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def caller(self) -> Principal:
        if self.principal is None:
            raise Unauthorized()
        return self.principal

    @property
    def channel_name(self) -> str:
        """The X-Channel of a route that requires one (checked before the view runs)."""
        if self.channel is None:
            raise UnknownChannel()
        return self.channel

    @property
    def key(self) -> str:
        """The Idempotency-Key of an idempotent route (checked before the view runs)."""
        if self.idempotency_key is None:
            raise IdempotencyKeyRequired()
        return self.idempotency_key


def route(bp: Blueprint, method: str, path: str, *, operation: str, summary: str, center: str,
          request_model: type | None = None, response_model: type | None = None,
          status: int = 200, public: bool = False, roles: tuple[str, ...] = (), customer_only: bool = False,
          idempotent: bool = False, errors: tuple[int, ...] = (), query: dict[str, Any] | None = None,
          path_params: dict[str, Any] | None = None, headers: dict[str, Any] | None = None,
          channel_required: bool = True, links: dict[str, Link] | None = None,
          response_headers: dict[str, str] | None = None, description: str = "",
          ) -> Callable[[Callable[[Request], Any]], Callable[..., Response]]:
    spec = RouteSpec(method, path, operation, summary, center, status, request_model, response_model,
                     public, roles, idempotent, errors, tuple((query or {}).items()),
                     tuple((path_params or {}).items()), tuple((headers or {}).items()), customer_only,
                     tuple((links or {}).items()), channel_required, tuple((response_headers or {}).items()),
                     description)
    ROUTES.append(spec)

    def decorate(view: Callable[[Request], Any]) -> Callable[..., Response]:
        def chalice_view(**path_params: str) -> Response:
            started = time.perf_counter()
            raw = bp.current_request
            headers = {k.lower(): v for k, v in (raw.headers or {}).items()}
            request_id = _request_id(headers.get("x-request-id"))
            req: Request | None = None
            try:
                req = _build_request(raw, headers, request_id, path_params, spec, channel_required)
                result = view(req)
                if spec.status == 204:  # No Content: no body at all
                    response = Response(body="", status_code=204, headers={"X-Request-Id": request_id})
                else:
                    response = _json_response(spec.status, _dump(result), request_id, dict(spec.response_headers))
            except Exception as exc:  # noqa: BLE001 - the one place exceptions become responses
                error = to_api_error(exc)
                if error.status >= 500:
                    obs.log().exception("unhandled error", extra={"operation": spec.operation,
                                                                   "request_id": request_id})
                response = _json_response(error.status, error.body(request_id), request_id, error.headers)
            _access_log(spec, req, request_id, response.status_code, started)
            return response

        chalice_view.__name__ = f"{spec.operation}_view"
        chalice_view.__doc__ = view.__doc__
        # Every content type reaches the view, which answers an unsupported one in the error format.
        bp.route(path, methods=[method], content_types=["*/*"], name=spec.operation)(chalice_view)
        return chalice_view

    return decorate


def _request_id(incoming: str | None) -> str:
    if incoming and 8 <= len(incoming) <= 64 and all(c.isalnum() or c in "-_" for c in incoming):
        return incoming
    return uuid.uuid4().hex


def _build_request(raw: Any, headers: dict[str, str], request_id: str, path_params: dict[str, str],
                   spec: RouteSpec, channel_required: bool) -> Request:
    channel = headers.get("x-channel")
    if channel_required and channel not in config.CHANNELS:
        raise UnknownChannel()
    principal = _principal(raw)
    if not spec.public:
        if principal is None:
            raise Unauthorized()
        if spec.customer_only and principal.kind != "customer":
            raise Forbidden("Only customers may do this.")
        if spec.roles and (principal.kind != "staff" or not set(spec.roles) & set(principal.roles)):
            raise Forbidden(f"This needs one of the roles: {', '.join(spec.roles)}.")
    for name, kind in spec.path_params:
        try:
            schema.decode_value(path_params.get(name), kind, name)
        except ApiError as exc:  # a malformed id names nothing: the same answer as a missing one
            raise NotFound() from exc
    key = idempotency.require_key(headers.get("idempotency-key")) if spec.idempotent else None
    for name, declared in spec.headers:
        kind, _ = header_kind(declared)
        if headers.get(name.lower()) is not None:
            schema.decode_value(headers[name.lower()], kind, name)
    query = {name: schema.decode_value(raw.query_params.get(name), kind, name)
             for name, kind in spec.query if (raw.query_params or {}).get(name) is not None}
    if spec.request_model is not None:
        _check_content_type(headers.get("content-type"))
    body = _parse_body(raw.raw_body, spec.request_model)
    for name, declared in spec.headers:  # after the body: a broken body is answered as such first
        if header_kind(declared)[1] and headers.get(name.lower()) is None:
            raise ValidationFailed(f"The header {name} is required.", details=[{"field": name, "problem": "required"}])
    identity = (raw.context or {}).get("identity") or {}
    return Request(request_id=request_id, channel=channel, principal=principal, body=body,
                   path_params=dict(path_params), query=query, headers=headers, idempotency_key=key,
                   source_ip=str(identity.get("sourceIp") or ""), raw_body=raw.raw_body or b"")


def _principal(raw: Any) -> Principal | None:
    ctx = (raw.context or {}).get("authorizer") or {}
    if not ctx.get("subject"):
        return None
    return Principal.from_context(ctx)


JSON_TYPES = frozenset({"application/json", "text/plain"})


def _check_content_type(value: str | None) -> None:
    """JSON bodies come as application/json (any parameters); text/plain and none are read as JSON too."""
    if value is not None and value.split(";", 1)[0].strip().lower() not in JSON_TYPES:
        raise UnsupportedMediaType()


def _parse_body(raw_body: bytes | None, model: type | None) -> Any:
    if model is None:
        return None
    try:
        data = json.loads(raw_body or b"null", parse_float=_json_number)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
        raise MalformedJson() from exc
    if not isinstance(data, dict):
        raise MalformedJson("The request body must be a JSON object.")
    # A "\ud800" escape (or, as json.loads reads bytes with surrogatepass, the bytes ED A0 80) decodes to a
    # lone surrogate: not text. It made argon2 fail (500) and, in a memo, a statement no one could read.
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedJson("The request body has a string that is not valid Unicode (an unpaired "
                            "surrogate escape).") from exc
    except RecursionError as exc:  # as deep as json.loads allows, and no deeper
        raise MalformedJson() from exc
    return schema.decode(data, model)


def _json_number(text: str) -> float | int:
    """A JSON number written with a fraction or an exponent: an integer when its value is one (140.0, 1e2),
    as JSON Schema counts integers, so an integer field takes it; otherwise a float, which no field takes
    (amounts are strings)."""
    value = float(text)
    return int(value) if value.is_integer() else value


def _dump(result: Any) -> Any:
    return result if isinstance(result, dict) else schema.to_builtins(result)


def _json_response(status: int, body: Any, request_id: str, headers: dict[str, str] | None = None) -> Response:
    return Response(body=json.dumps(body, separators=(",", ":"), ensure_ascii=False), status_code=status,
                    headers={"Content-Type": "application/json", "X-Request-Id": request_id, **(headers or {})})


def _access_log(spec: RouteSpec, req: Request | None, request_id: str, status: int, started: float) -> None:
    principal = req.principal if req else None
    obs.log().info("request", extra={
        "request_id": request_id, "operation": spec.operation, "route": f"{spec.method} {spec.path}",
        "status": status, "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "channel": req.channel if req else None,
        "customer": _mask_subject(principal.subject) if principal else None,
    })
    obs.emit_request(status)


def _mask_subject(subject: str) -> str:
    return subject[:6] + "…" if len(subject) > 6 else "…"


def error_response(exc: ApiError, request_id: str | None = None) -> Response:
    """For code outside a route (middleware, local server) that must answer with the same error shape."""
    rid = request_id or uuid.uuid4().hex
    return _json_response(exc.status, exc.body(rid), rid, exc.headers)
