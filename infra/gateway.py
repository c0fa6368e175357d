"""API Gateway's part, played locally: the root template's REST API in front of the functions.

For each request, as the deployed API does: find the route in the API's definition (no route, or not
that method: the MISSING_AUTHENTICATION_TOKEN gateway response); on a protected route run the Lambda
authorizer with a REQUEST event (its identity headers must all be present; its answer is cached per
identity for the template's TTL) and check its policy allows this method ARN; build the REST proxy event
with the authorizer's context in `requestContext.authorizer`; invoke the route's function through a
runtime (infra.runtime); turn the proxy result into the HTTP response. Errors the gateway makes itself
are rendered from the template's GatewayResponses, with `$context` variables filled in as AWS does.

The channels' usage plans are enforced too: an operation that requires an API key gets 403 INVALID_API_KEY
without one of the plans' keys, and each key is throttled (a token bucket of the plan's rate and burst: 429
THROTTLED) and metered against its daily quota (429 QUOTA_EXCEEDED). API Gateway generates key values; locally
each channel gets a random key (`Gateway.api_keys`, served by the local run at GET /_local/api-keys).
Request validation and stage-level throttling are not emulated.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import parse_qsl, unquote

from infra import template
from infra.runtime import FunctionError

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
API_ID = "localapi01"


class Runtime(Protocol):
    def invoke(self, logical_id: str, event: Any) -> Any: ...


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass(frozen=True)
class _Route:
    route: template.ApiRoute
    pattern: re.Pattern[str]


def path_pattern(path: str) -> re.Pattern[str]:
    """`/v1/account/accounts/{account_id}` → a regex capturing `account_id` (one path segment)."""
    parts = re.split(r"(\{\w+\})", path)
    regex = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{regex}$")


def render(template_text: str, request_id: str, message: str) -> str:
    """A gateway response template with the `$context` variables AWS fills in. `messageString` is the
    message as a quoted JSON string; `message` is the raw text."""
    return (template_text.replace("$context.error.messageString", json.dumps(message))
            .replace("$context.error.message", message).replace("$context.requestId", request_id))


DEFAULT_STATUS = {"DEFAULT_4XX": 400, "DEFAULT_5XX": 500}
# API Gateway's own response types → (status it uses, the family whose template applies when not set)
RESPONSE_TYPES = {
    "UNAUTHORIZED": (401, "DEFAULT_4XX"), "ACCESS_DENIED": (403, "DEFAULT_4XX"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "DEFAULT_4XX"), "REQUEST_TOO_LARGE": (413, "DEFAULT_4XX"),
    "AUTHORIZER_FAILURE": (500, "DEFAULT_5XX"), "AUTHORIZER_CONFIGURATION_ERROR": (500, "DEFAULT_5XX"),
    "INTEGRATION_FAILURE": (502, "DEFAULT_5XX"), "INTEGRATION_TIMEOUT": (504, "DEFAULT_5XX"),
    "BAD_REQUEST_BODY": (400, "DEFAULT_4XX"), "INVALID_API_KEY": (403, "DEFAULT_4XX"),
    "THROTTLED": (429, "DEFAULT_4XX"), "QUOTA_EXCEEDED": (429, "DEFAULT_4XX"),
}


class UsagePlans:
    """Each channel's key, throttle (token bucket) and daily quota, as API Gateway applies them."""

    def __init__(self, plans: dict[str, template.UsagePlan], keys: dict[str, str] | None, clock: Any) -> None:
        self.plans, self.clock = plans, clock
        self.keys = keys or {channel: f"local-{channel}-{secrets.token_hex(8)}" for channel in plans}
        self._channel = {key: channel for channel, key in self.keys.items()}
        self._buckets: dict[str, tuple[float, float]] = {}  # channel → (tokens, at)
        self._used: dict[tuple[str, str], int] = {}  # (channel, UTC day) → requests
        self._lock = threading.Lock()

    def admit(self, key: str | None) -> str | None:
        """None when the request may go on, else the gateway response type that refuses it."""
        channel = self._channel.get(key or "")
        if channel is None:
            return "INVALID_API_KEY"
        plan, now = self.plans[channel], self.clock()
        with self._lock:
            tokens, at = self._buckets.get(channel, (float(plan.burst_limit), now))
            tokens = min(float(plan.burst_limit), tokens + (now - at) * plan.rate_limit)
            if tokens < 1:
                self._buckets[channel] = (tokens, now)
                return "THROTTLED"
            day = (channel, datetime.now(UTC).strftime("%Y%m%d"))
            if plan.daily_quota is not None and self._used.get(day, 0) >= plan.daily_quota:
                return "QUOTA_EXCEEDED"
            self._buckets[channel] = (tokens - 1, now)
            self._used[day] = self._used.get(day, 0) + 1
        return None


class Gateway:
    def __init__(self, runtime: Runtime, *, stage: str = "local", region: str = "ap-east-1",
                 account: str = "123456789012", clock: Any = time.monotonic,
                 api_keys: dict[str, str] | None = None) -> None:
        self.runtime = runtime
        self.stage, self.region, self.account = stage, region, account
        self.clock = clock
        self.routes = [_Route(r, path_pattern(r.path)) for r in template.api_routes()]
        self.authorizer = template.authorizer()
        self.responses = template.gateway_responses()
        self._auth_cache: dict[tuple[str, ...], tuple[float, dict[str, Any]]] = {}
        self._auth_lock = threading.Lock()
        self.usage = UsagePlans(template.usage_plans(), api_keys, clock)

    @property
    def api_keys(self) -> dict[str, str]:
        """channel → its API key (what the channel's apps send as x-api-key)."""
        return dict(self.usage.keys)

    # -- the request path --
    def handle(self, method: str, raw_path: str, headers: list[tuple[str, str]], body: bytes,
               source_ip: str = "127.0.0.1") -> Response:
        request_id = str(uuid.uuid4())
        path, _, query = raw_path.partition("?")
        if len(body) > MAX_BODY_BYTES:
            return self.gateway_response("REQUEST_TOO_LARGE", request_id, "Request Too Long")
        matched = self._match(method.upper(), path)
        if matched is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", request_id, "Missing Authentication Token")
        route, params = matched
        if route.api_key_required:
            refused = self.usage.admit(next((v for k, v in headers if k.lower() == "x-api-key"), None))
            if refused:
                messages = {"INVALID_API_KEY": "Forbidden", "THROTTLED": "Too Many Requests",
                            "QUOTA_EXCEEDED": "Limit Exceeded"}
                return self.gateway_response(refused, request_id, messages[refused])
        event = self._proxy_event(route, method.upper(), path, query, headers, body, params, request_id, source_ip)
        if not route.public:
            outcome = self._authorize(event, request_id)
            if isinstance(outcome, Response):
                return outcome
            event["requestContext"]["authorizer"] = outcome
        try:
            result = self.runtime.invoke(route.function.logical_id, event)
        except FunctionError:
            return self.gateway_response("INTEGRATION_FAILURE", request_id, "Internal server error")
        return self._proxy_response(result, request_id)

    def _match(self, method: str, path: str) -> tuple[template.ApiRoute, dict[str, str]] | None:
        for candidate in self.routes:
            found = candidate.pattern.match(path)
            if found and candidate.route.method == method:
                return candidate.route, {k: unquote(v) for k, v in found.groupdict().items()}
        return None

    def method_arn(self, method: str, path: str) -> str:
        return f"arn:aws:execute-api:{self.region}:{self.account}:{API_ID}/{self.stage}/{method}{path}"

    def _proxy_event(self, route: template.ApiRoute, method: str, path: str, query: str,
                     headers: list[tuple[str, str]], body: bytes, params: dict[str, str], request_id: str,
                     source_ip: str) -> dict[str, Any]:
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for key, value in headers:
            single[key] = value
            multi.setdefault(key, []).append(value)
        pairs = parse_qsl(query, keep_blank_values=True)
        multi_query: dict[str, list[str]] = {}
        for key, value in pairs:
            multi_query.setdefault(key, []).append(value)
        try:
            text, encoded = body.decode("utf-8"), False
        except UnicodeDecodeError:
            text, encoded = base64.b64encode(body).decode(), True
        now = datetime.now(UTC)
        return {
            "resource": route.path, "path": path, "httpMethod": method,
            "headers": single or None, "multiValueHeaders": multi or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": params or None, "stageVariables": None,
            "requestContext": {
                "resourcePath": route.path, "httpMethod": method, "path": f"/{self.stage}{path}",
                "stage": self.stage, "requestId": request_id, "extendedRequestId": request_id,
                "accountId": self.account, "apiId": API_ID, "protocol": "HTTP/1.1",
                "domainName": "127.0.0.1", "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                "requestTimeEpoch": int(now.timestamp() * 1000),
                "identity": {"sourceIp": source_ip, "userAgent": single.get("User-Agent", single.get("user-agent"))},
            },
            "body": text if body else None, "isBase64Encoded": encoded,
        }

    # -- the Lambda authorizer --
    def _authorize(self, event: dict[str, Any], request_id: str) -> dict[str, Any] | Response:
        lowered = {k.lower(): v for k, v in (event["headers"] or {}).items()}
        identity = tuple(lowered.get(h.lower(), "") for h in self.authorizer.identity_headers)
        if not all(identity):  # API Gateway answers 401 without calling the authorizer
            return self.gateway_response("UNAUTHORIZED", request_id, "Unauthorized")
        method_arn = self.method_arn(event["httpMethod"], event["path"])
        now = self.clock()
        with self._auth_lock:
            cached = self._auth_cache.get(identity)
        if cached and cached[0] > now:
            answer = cached[1]
        else:
            auth_event = {"type": "REQUEST", "methodArn": method_arn, "resource": event["resource"],
                          "path": event["path"], "httpMethod": event["httpMethod"], "headers": event["headers"],
                          "multiValueHeaders": event["multiValueHeaders"],
                          "queryStringParameters": event["queryStringParameters"],
                          "pathParameters": event["pathParameters"], "stageVariables": None,
                          "requestContext": event["requestContext"]}
            try:
                answer = self.runtime.invoke(self.authorizer.function.logical_id, auth_event)
            except FunctionError as exc:
                if exc.payload.get("errorMessage") == "Unauthorized":
                    return self.gateway_response("UNAUTHORIZED", request_id, "Unauthorized")
                return self.gateway_response("AUTHORIZER_FAILURE", request_id, "Authorizer error")
            if not isinstance(answer, dict) or "policyDocument" not in answer:
                return self.gateway_response("AUTHORIZER_CONFIGURATION_ERROR", request_id, "Authorizer error")
            if self.authorizer.ttl_seconds > 0:
                with self._auth_lock:
                    self._auth_cache[identity] = (now + self.authorizer.ttl_seconds, answer)
        if not policy_allows(answer["policyDocument"], method_arn):
            return self.gateway_response("ACCESS_DENIED", request_id,
                                         "User is not authorized to access this resource with an explicit deny")
        context = {k: v for k, v in (answer.get("context") or {}).items()}
        return {"principalId": answer.get("principalId"), **context}

    def forget_authorizations(self) -> None:
        with self._auth_lock:
            self._auth_cache.clear()

    # -- responses --
    def _proxy_response(self, result: Any, request_id: str) -> Response:
        if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
            return self.gateway_response("INTEGRATION_FAILURE", request_id, "Internal server error")
        headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
        for key, values in (result.get("multiValueHeaders") or {}).items():
            headers += [(key, str(v)) for v in values if (key, str(v)) not in headers]
        raw = result.get("body") or ""
        body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        return Response(result["statusCode"], headers, body)

    def gateway_response(self, kind: str, request_id: str, message: str) -> Response:
        status, family = RESPONSE_TYPES.get(kind, (DEFAULT_STATUS.get(kind, 500), kind))
        config = self.responses.get(kind) or self.responses.get(family) or {}
        status = int(config.get("StatusCode", status))
        templates = config.get("ResponseTemplates") or {}
        text = templates.get("application/json")
        if text is None:  # AWS's own default body
            text = json.dumps({"message": message})
        body = render(text, request_id, message).encode()
        return Response(status, [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id),
                                 ("x-amzn-ErrorType", kind)], body)


def policy_allows(policy: dict[str, Any], method_arn: str) -> bool:
    """An authorizer's policy: an explicit Deny wins, else some Allow of execute-api:Invoke must match."""
    allowed = False
    for statement in _listify(policy.get("Statement")):
        actions = _listify(statement.get("Action"))
        resources = _listify(statement.get("Resource"))
        if not any(fnmatch.fnmatchcase("execute-api:Invoke", a) or a == "*" for a in actions):
            continue
        if not any(fnmatch.fnmatchcase(method_arn, r) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def _listify(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
