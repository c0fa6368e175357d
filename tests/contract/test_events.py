"""Contract 4: every trigger of every template function has a sample event in events/ that its handler
accepts, and every file in events/ belongs to a function.

Files are `events/<center>/<operation>.<source>.json` (`sam local invoke <Fn> -e <file>`), where
<operation> is the function's logical id without `Function`, in snake case, optionally without the
center prefix (CreateTransferFunction → create_transfer, UserInternalFunction → internal), and <source>
is the trigger: api, sqs, schedule, authorizer (the API's Lambda authorizer) or invoke (direct invoke,
for functions without events). API samples are API Gateway REST proxy events; protected routes carry the
authorizer context that API Gateway adds after the authorizer allowed the call.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra import centers, template
from infra.runtime import FunctionError

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
FILE_NAME = re.compile(r"^(?P<operation>[a-z0-9_]+)\.(?P<source>api|sqs|schedule|authorizer|invoke)\.json$")
TOKEN_PLACEHOLDER = "<TOKEN>"

# What each API sample must get against the freshly created, empty tables: (status, error code or None).
# Anything not listed must succeed with the route's own success status.
API_OUTCOMES: dict[str, tuple[int, str | None]] = {
    "auth/customer_login": (401, "INVALID_CREDENTIALS"),
    "auth/staff_login": (401, "INVALID_CREDENTIALS"),
    "account/get_account": (404, "ACCOUNT_NOT_FOUND"),
    "account/get_statement": (404, "ACCOUNT_NOT_FOUND"),
    "account/create_transfer": (404, "ACCOUNT_NOT_FOUND"),
    "account/create_deposit": (404, "ACCOUNT_NOT_FOUND"),
}
# Responses that are not JSON by design.
NON_JSON = {"apidocs/get_api_docs": "text/html"}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def operation_names(fn: template.FunctionDef) -> set[str]:
    base = fn.logical_id.removesuffix("Function")
    names = {snake(base)}
    prefix = fn.center.capitalize()
    if base.startswith(prefix) and base != prefix:
        names.add(snake(base[len(prefix):]))
    return names


def authorizer_functions() -> set[str]:
    return {template.authorizer().function.logical_id}


def sources(fn: template.FunctionDef) -> set[str]:
    kinds = {"SQS": "sqs", "Schedule": "schedule", "ScheduleV2": "schedule"}
    out = {"api" for route in template.api_routes() if route.function.logical_id == fn.logical_id}
    for name, event in fn.events.items():
        assert event.get("Type") in kinds, f"{fn.logical_id}.{name}: no sample convention for {event.get('Type')}"
        out.add(kinds[event["Type"]])
    if fn.logical_id in authorizer_functions():
        out.add("authorizer")
    if not out:
        out.add("invoke")  # no trigger: other centers invoke it directly
    return out


@dataclass(frozen=True)
class Sample:
    path: Path
    center: str
    operation: str
    source: str

    @property
    def key(self) -> str:
        return f"{self.center}/{self.operation}"

    def load(self) -> Any:
        return json.loads(self.path.read_text(encoding="utf-8"))


def samples() -> list[Sample]:
    out = []
    for path in sorted(p for p in EVENTS.rglob("*") if p.is_file()):
        rel = path.relative_to(EVENTS)
        match = FILE_NAME.match(path.name)
        center = rel.parts[0] if len(rel.parts) == 2 else ""
        out.append(Sample(path, center, match["operation"] if match else "", match["source"] if match else ""))
    return out


def owner(sample: Sample) -> template.FunctionDef | None:
    """The one function this sample belongs to (same center, operation name and trigger kind)."""
    found = [fn for fn in template.functions() if fn.center == sample.center
             and sample.operation in operation_names(fn) and sample.source in sources(fn)]
    return found[0] if len(found) == 1 else None


def samples_of(source: str) -> list[Sample]:
    return [s for s in samples() if s.source == source]


def ids(sample: Sample) -> str:
    return str(sample.path.relative_to(EVENTS))


# ------------------------------------------------------------------------------------------ coverage


def test_every_event_file_belongs_to_a_function() -> None:
    problems = []
    for sample in samples():
        if not sample.center or not sample.operation:
            problems.append(f"{ids(sample)}: not events/<center>/<operation>.<api|sqs|schedule|authorizer|invoke>.json")
        elif owner(sample) is None:
            problems.append(f"{ids(sample)}: no {sample.source}-triggered function {sample.operation} "
                            f"in center {sample.center}")
    assert not problems, "\n".join(problems)


def test_every_function_trigger_has_a_sample() -> None:
    have = {(s.center, s.operation, s.source) for s in samples()}
    missing = []
    for fn in template.functions():
        for source in sources(fn):
            if not any((fn.center, op, source) in have for op in operation_names(fn)):
                missing.append(f"{fn.logical_id}: events/{fn.center}/{sorted(operation_names(fn))[0]}.{source}.json")
    assert not missing, "missing sample events:\n" + "\n".join(missing)


def test_operation_names_match_route_specs() -> None:
    """The function's name and the route's operation agree, so samples and logs speak of one thing."""
    centers.load_all()
    from bank_common.http import ROUTES

    specs = {(s.method.upper(), s.path): s.operation for s in ROUTES}
    bad = [f"{r.function.logical_id} serves {r.method} {r.path} whose operation is {specs[(r.method, r.path)]}"
           for r in template.api_routes()
           if (r.method, r.path) in specs and specs[(r.method, r.path)] not in operation_names(r.function)]
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------------------------------------ handlers


@pytest.mark.parametrize("sample", samples_of("api"), ids=ids)
def test_api_sample_is_one_template_route(sample: Sample) -> None:
    event = sample.load()
    fn = owner(sample)
    assert fn is not None
    method, resource = event["requestContext"]["httpMethod"], event["requestContext"]["resourcePath"]
    assert (event["httpMethod"], event["resource"]) == (method, resource)
    route = [r for r in template.api_routes() if r.function.logical_id == fn.logical_id]
    assert [(r.method, r.path) for r in route] == [(method, resource)], f"{ids(sample)} is not {fn.logical_id}'s route"
    names = re.findall(r"{(\w+)}", resource)
    assert set(event.get("pathParameters") or {}) == set(names)
    concrete = resource
    for name in names:
        concrete = concrete.replace("{" + name + "}", event["pathParameters"][name])
    assert event["path"] == concrete
    authorizer = event["requestContext"].get("authorizer")
    if route[0].public:
        assert not authorizer, f"{ids(sample)}: public route with an authorizer context"
    else:
        assert authorizer and {"subject", "kind", "roles", "channel", "device_id", "auth_level"} <= set(authorizer)


@pytest.mark.parametrize("sample", samples_of("api"), ids=ids)
def test_api_sample_is_accepted(sample: Sample, runtime: Any) -> None:
    """As Lambda would run it: the function alone, with its own environment, against moto with every
    table and queue of the templates."""
    event = sample.load()
    centers.load_all()
    from bank_common.http import ROUTES

    fn = owner(sample)
    assert fn is not None
    response = runtime.invoke(fn.logical_id, event)
    status = response["statusCode"]
    assert status < 500, f"{ids(sample)} → {status}: {response.get('body')}"
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    if sample.key in NON_JSON:
        assert status == 200 and headers["content-type"].startswith(NON_JSON[sample.key])
        return
    assert headers.get("content-type", "").startswith("application/json"), headers
    body = json.loads(response["body"])
    spec = next((s for s in ROUTES if (s.method.upper(), s.path) == (event["httpMethod"], event["resource"])), None)
    want_status, want_code = API_OUTCOMES.get(sample.key, (spec.status if spec else 200, None))
    assert status == want_status, f"{ids(sample)} → {status}: {body}"
    if want_code is None:
        assert "error" not in body, body
    else:
        assert set(body) == {"error"} and body["error"]["code"] == want_code, body
        assert {"code", "message", "request_id"} <= set(body["error"])
        assert spec is None or status in spec.errors or status in (400, 401, 403), \
            f"{ids(sample)}: {status} is not among the route's documented errors {spec.errors}"


@pytest.mark.parametrize("sample", samples_of("sqs"), ids=ids)
def test_sqs_sample_is_accepted(sample: Sample, runtime: Any) -> None:
    event = sample.load()
    assert event["Records"] and all(r["eventSource"] == "aws:sqs" for r in event["Records"])
    fn = owner(sample)
    assert fn is not None
    result = runtime.invoke(fn.logical_id, event)
    assert isinstance(result, dict) and set(result) == {"batchItemFailures"}, result
    assert result["batchItemFailures"] == [], f"{ids(sample)}: the sample message failed: {result}"


@pytest.mark.parametrize("sample", samples_of("schedule"), ids=ids)
def test_schedule_sample_is_accepted(sample: Sample, runtime: Any) -> None:
    fn = owner(sample)
    assert fn is not None
    result = runtime.invoke(fn.logical_id, sample.load())
    assert isinstance(result, dict) and result, result


@pytest.mark.parametrize("sample", samples_of("invoke"), ids=ids)
def test_invoke_sample_is_accepted(sample: Sample, runtime: Any) -> None:
    event = sample.load()
    fn = owner(sample)
    assert fn is not None
    result = runtime.invoke(fn.logical_id, event)
    assert isinstance(result, dict) and isinstance(result.get("ok"), bool), result
    if not result["ok"]:
        # Against empty tables a lookup may be a clean "not found", never an unknown operation or a crash.
        assert result["error"]["code"] not in ("UNKNOWN_OPERATION", "INTERNAL"), result
        assert result["error"]["status"] < 500, result
    # An internal function's operation must exist: an unknown one is rejected.
    if "operation" in event:
        bogus = runtime.invoke(fn.logical_id, {"operation": "no_such_op", "payload": {}})
        assert bogus["ok"] is False


@pytest.mark.parametrize("sample", samples_of("authorizer"), ids=ids)
def test_authorizer_sample_is_accepted(sample: Sample, runtime: Any) -> None:
    from bank_common import tokens

    raw = sample.path.read_text(encoding="utf-8")
    assert TOKEN_PLACEHOLDER in raw, f"{ids(sample)} must hold the placeholder {TOKEN_PLACEHOLDER}"
    template_event = json.loads(raw)
    assert template_event["type"] == "REQUEST" and template_event["methodArn"].startswith("arn:aws:execute-api:")
    fn = owner(sample)
    assert fn is not None

    def handler(event: Any, context: Any) -> Any:
        return runtime.invoke(fn.logical_id, event)

    channel = template_event["headers"]["X-Channel"]
    principal = tokens.Principal(subject="c-0001", kind="customer", channel=channel, device_id="d1")
    token, _ = tokens.issue(principal)
    event = json.loads(raw.replace(TOKEN_PLACEHOLDER, token))
    result = handler(event, None)
    assert result["principalId"] == "c-0001"
    statement = result["policyDocument"]["Statement"]
    assert [s["Effect"] for s in statement] == ["Allow"]
    arn_prefix = "/".join(event["methodArn"].split("/")[:2])
    assert statement[0]["Resource"] == f"{arn_prefix}/*/*"
    assert result["context"] == principal.context()
    assert all(isinstance(v, str) for v in result["context"].values())
    # The placeholder itself (no valid token) is refused the way API Gateway expects.
    with pytest.raises(FunctionError, match="Unauthorized"):
        handler(template_event, None)
