"""The OpenAPI 3.1 document, built from the routes' recorded metadata and their msgspec schemas.

Chalice has no OpenAPI 3 generator; this is the one place the document is made, for whatever routes
are registered in the process (one center in Lambda, all of them in the local run).
"""

from __future__ import annotations

import re
from typing import Any

from bank_common import schema
from bank_common.http import ROUTES, Link, RouteSpec, header_kind

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message", "request_id"], "properties": {
        "code": {"type": "string", "example": "LIMIT_EXCEEDED"},
        "message": {"type": "string"},
        "request_id": {"type": "string"},
        "details": {},
    }}},
}
# Two kinds of access token: an operation's `security` says which it takes (both: either).
SECURITY_SCHEMES = {
    "customer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                 "description": "A customer's access token (POST /v1/auth/login), valid only with the X-Channel "
                                "it was issued on."},
    "staff": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
              "description": "A bank staff member's access token (POST /v1/auth/staff/login), with role claims; "
                             "not bound to a channel."},
}
# What every money-moving operation promises about its Idempotency-Key (docs/decisions/0020).
IDEMPOTENCY_RULE = (
    "Idempotency-Key: an outcome, once decided, is final. The first request under a key is answered and its "
    "answer recorded with a hash of the request: a success, or a refusal by a business rule (404 for an account "
    "that is not the caller's, 422 for insufficient funds, a limit, a cap, a payee that cannot receive, a missing "
    "agreement). Every retry with the same key and body gets that same answer, even after the world has changed "
    "(money arrived, a limit reset): send a new key for a new attempt. The same key with another body is 422 "
    "IDEMPOTENCY_KEY_REUSED. Only answers that decided nothing may be retried with the same key to another "
    "outcome: 409 CONCURRENT_UPDATE (a lost race), 503, a timeout or a dropped connection, and 400 (bad input "
    "is never recorded).")
STATUS_TEXT = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict",
               415: "Unsupported media type", 422: "Business rule violated", 429: "Too many requests",
               503: "Another part of the bank did not answer; retry the same request"}


def document(routes: list[RouteSpec] | None = None, *, server_url: str = "/") -> dict[str, Any]:
    specs = sorted(routes if routes is not None else ROUTES, key=lambda r: (r.path, r.method))
    models = {m for spec in specs for m in (spec.request_model, spec.response_model) if m is not None}
    schemas: dict[str, Any] = {"Error": ERROR_SCHEMA, **schema.json_schemas(sorted(models, key=_name))}
    paths: dict[str, Any] = {}
    for spec in specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Bank internet business middle platform", "version": "1.0.0",
                 "description": "One API for web, app, WeChat and Alipay channels. Money is a decimal string "
                                "with two places (CNY); errors are {error: {code, message, request_id}}."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def _name(model: type) -> str:
    return model.__name__


def _ref(model: type) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(spec: RouteSpec) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": "X-Request-Id", "in": "header", "required": False, "schema": {"type": "string"},
         "description": "Kept for the logs and echoed when it is 8-64 letters, digits, - or _; else one is made."},
    ]
    if spec.channel_required:  # a route for anyone (the JWKS) ignores the channel, so it does not state one
        params.insert(0, {"name": "X-Channel", "in": "header", "required": True,
                          "schema": {"type": "string", "enum": ["web", "app", "wechat_mp", "wechat_oa", "alipay_mp"]}})
    if spec.idempotent:
        params.append({"name": "Idempotency-Key", "in": "header", "required": True,
                       "schema": schema.value_schema(schema.IdempotencyKey)})
    path_types = dict(spec.path_params)
    for name in re.findall(r"{(\w+)}", spec.path):
        kind = path_types.get(name)
        params.append({"name": name, "in": "path", "required": True,
                       "schema": schema.value_schema(kind) if kind is not None else {"type": "string"}})
    for name, kind in spec.query:
        params.append({"name": name, "in": "query", "required": False, "schema": schema.value_schema(kind)})
    for name, declared in spec.headers:
        kind, required = header_kind(declared)
        params.append({"name": name, "in": "header", "required": required, "schema": schema.value_schema(kind)})
    if spec.channel_required:  # API Gateway's usage plans: every channel operation needs its channel's key
        params.append({"name": "x-api-key", "in": "header", "required": True,
                       "description": "The API key of the calling channel (its usage plan).",
                       "schema": {"type": "string", "minLength": 16, "maxLength": 128,
                                  "pattern": schema.anchored(r"[A-Za-z0-9_-]+")}})
    if not spec.public and not any(name.lower() == "x-device-id" for name, _ in spec.headers):
        # The authorizer's identity sources: a token is accepted only with the device it was issued to.
        params.append({"name": "X-Device-Id", "in": "header", "required": True,
                       "schema": schema.value_schema(schema.DeviceId)})
    ok: dict[str, Any] = {"description": "No content" if spec.status == 204 else "OK"}
    if spec.response_headers:
        ok["headers"] = {name: {"schema": {"type": "string", "example": value}}
                         for name, value in spec.response_headers}
    if spec.response_model is not None:
        ok["content"] = {"application/json": {"schema": _ref(spec.response_model)}}
    if spec.links:
        ok["links"] = {name: _link(link) for name, link in spec.links}
    responses: dict[str, Any] = {str(spec.status): ok}
    statuses = set(spec.errors) | {400}
    if not spec.public:
        statuses |= {401, 403}
    if spec.idempotent:
        statuses |= {409, 422}
    if spec.channel_required:
        statuses |= {403, 429}  # no valid channel key; the channel's throttle or daily quota
    if spec.path_params:
        statuses |= {404}
    if spec.request_model is not None:
        statuses |= {415}
    for status in sorted(statuses):
        error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        responses[str(status)] = {"description": STATUS_TEXT.get(status, "Error"), "content": error_body}
    op: dict[str, Any] = {"operationId": spec.operation, "summary": spec.summary, "tags": [spec.center],
                          "parameters": params, "responses": responses}
    if spec.request_model is not None:
        body: dict[str, Any] = {"schema": _ref(spec.request_model)}
        example = getattr(spec.request_model, "EXAMPLE", None)  # a whole body that works (a ClassVar)
        if example is not None:
            body["example"] = example
        op["requestBody"] = {"required": True, "content": {"application/json": body}}
    if not spec.public:
        op["security"] = _security(spec)
    described = [f"Staff only: {', '.join(spec.roles)}."] if spec.roles else []
    if spec.description:
        described.append(spec.description)
    if spec.idempotent:
        described.append(IDEMPOTENCY_RULE)
    if described:
        op["description"] = "\n\n".join(described)
    return op


def _security(spec: RouteSpec) -> list[dict[str, list[str]]]:
    if spec.roles:
        return [{"staff": []}]
    if spec.customer_only:
        return [{"customer": []}]
    return [{"customer": []}, {"staff": []}]


def _link(link: Link) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": link.operation, "description": link.description}
    if link.parameters:
        out["parameters"] = dict(link.parameters)
    if link.body:
        out["requestBody"] = dict(link.body)
    return out


DOCS_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>Bank middle platform API</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:70rem}code{background:#f3f3f3;padding:0 .2rem}
.op{border:1px solid #ddd;border-radius:6px;margin:.6rem 0;padding:.5rem .8rem}
.m{font-weight:bold;width:4rem;display:inline-block}
pre{background:#f8f8f8;padding:.5rem;overflow:auto;font-size:.8rem}</style></head><body>
<h1>Bank internet business middle platform API</h1>
<p>Machine-readable document: <a href="/v1/openapi.json"><code>/v1/openapi.json</code></a>.
Every call sends <code>X-Channel</code>; protected calls send <code>Authorization: Bearer &lt;token&gt;</code>;
money-moving POSTs send <code>Idempotency-Key</code>. Amounts are strings like <code>"125.50"</code>.</p>
<div id="ops">Loading…</div>
<script>
fetch('/v1/openapi.json').then(r=>r.json()).then(doc=>{const out=[];
for(const [path,ops] of Object.entries(doc.paths)){for(const [m,op] of Object.entries(ops)){
const body=op.requestBody?JSON.stringify(op.requestBody.content['application/json'].schema):'';
out.push(`<div class="op"><span class="m">${m.toUpperCase()}</span><code>${path}</code> — ${op.summary}
${op.security?' 🔒':''}${op.description?'<br><em>'+op.description+'</em>':''}
<br>responses: ${Object.keys(op.responses).join(', ')}${body?'<pre>'+body+'</pre>':''}</div>`);}}
document.getElementById('ops').innerHTML=out.join('');});
</script></body></html>"""
