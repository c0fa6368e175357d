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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra import centers, template

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
    out = set()
    for api in template.resources("AWS::Serverless::Api").values():
        for auth in ((api["Properties"].get("Auth") or {}).get("Authorizers") or {}).values():
            arn = auth.get("FunctionArn")
            if isinstance(arn, dict) and "Fn::GetAtt" in arn:
                out.add(arn["Fn::GetAtt"][0] if isinstance(arn["Fn::GetAtt"], list)
                        else arn["Fn::GetAtt"].split(".")[0])
    return out


def sources(fn: template.FunctionDef) -> set[str]:
    kinds = {"Api": "api", "SQS": "sqs", "Schedule": "schedule", "ScheduleV2": "schedule"}
    out = set()
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


def reset_caches() -> None:
    from bank_common import config, ddb, tokens

    config.reset()
    ddb.reset()
    tokens.reset()


@pytest.fixture
def invoke_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """As in one Lambda function: moto with every table and queue of template.yaml (the functions' env
    pointing at them), only the center's own Chalice app, the apidocs function serving its built file.
    Centers reach each other through the in-process client registry, as in the local run."""
    from moto import mock_aws

    from bank_common import client
    from infra import resources

    # Whatever ran before in this process (a local run, DynamoDB Local benchmarks) must not be reached.
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SQS", "OPENAPI_LIVE"):
        monkeypatch.delenv(name, raising=False)
    modules = centers.load_all()
    # A blueprint registered in several apps (the center's own and the local composite) answers
    # `bp.current_request` from the app it was registered in last; in Lambda there is only the center's
    # own app, so point each blueprint back at it for the duration of the test.
    saved_apps = {}
    for module in modules.values():
        for bp in getattr(module, "BLUEPRINTS", ()):
            saved_apps[bp] = bp._current_app
            bp._current_app = module.app
    saved_registry = dict(client._registry)
    for center, module in modules.items():
        if hasattr(module, "internal"):
            client.register_local(center, module.internal)
    with mock_aws():
        import boto3

        env = resources.provision(boto3.client("dynamodb"), boto3.client("sqs"), "test")
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        reset_caches()
        try:
            yield env
        finally:
            reset_caches()
            client._registry.clear()
            client._registry.update(saved_registry)
            for bp, app in saved_apps.items():
                bp._current_app = app


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
def test_api_sample_is_accepted(sample: Sample, invoke_env: dict[str, str]) -> None:
    event = sample.load()
    centers.load_all()
    from bank_common.http import ROUTES

    response = centers.load(sample.center).app(event, None)
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
def test_sqs_sample_is_accepted(sample: Sample, invoke_env: dict[str, str]) -> None:
    event = sample.load()
    assert event["Records"] and all(r["eventSource"] == "aws:sqs" for r in event["Records"])
    fn = owner(sample)
    assert fn is not None
    result = centers.handler(fn.center, fn.handler)(event, None)  # type: ignore[operator]
    assert isinstance(result, dict) and set(result) == {"batchItemFailures"}, result
    assert result["batchItemFailures"] == [], f"{ids(sample)}: the sample message failed: {result}"


@pytest.mark.parametrize("sample", samples_of("schedule"), ids=ids)
def test_schedule_sample_is_accepted(sample: Sample, invoke_env: dict[str, str]) -> None:
    fn = owner(sample)
    assert fn is not None
    result = centers.handler(fn.center, fn.handler)(sample.load(), None)  # type: ignore[operator]
    assert isinstance(result, dict) and result, result
    json.dumps(result)  # a Lambda result must be JSON


@pytest.mark.parametrize("sample", samples_of("invoke"), ids=ids)
def test_invoke_sample_is_accepted(sample: Sample, invoke_env: dict[str, str]) -> None:
    event = sample.load()
    fn = owner(sample)
    assert fn is not None
    result = centers.handler(fn.center, fn.handler)(event, None)  # type: ignore[operator]
    assert isinstance(result, dict) and isinstance(result.get("ok"), bool), result
    json.dumps(result)
    if not result["ok"]:
        # Against empty tables a lookup may be a clean "not found", never an unknown operation or a crash.
        assert result["error"]["code"] not in ("UNKNOWN_OPERATION", "INTERNAL"), result
        assert result["error"]["status"] < 500, result
    # The operation must exist: an unknown one is rejected.
    bogus = centers.handler(fn.center, fn.handler)({"operation": "no_such_op", "payload": {}}, None)  # type: ignore[operator]
    assert bogus["ok"] is False


@pytest.mark.parametrize("sample", samples_of("authorizer"), ids=ids)
def test_authorizer_sample_is_accepted(sample: Sample) -> None:
    from bank_common import tokens

    raw = sample.path.read_text(encoding="utf-8")
    assert TOKEN_PLACEHOLDER in raw, f"{ids(sample)} must hold the placeholder {TOKEN_PLACEHOLDER}"
    template_event = json.loads(raw)
    assert template_event["type"] == "REQUEST" and template_event["methodArn"].startswith("arn:aws:execute-api:")
    fn = owner(sample)
    assert fn is not None
    handler = centers.handler(fn.center, fn.handler)
    channel = template_event["headers"]["X-Channel"]
    principal = tokens.Principal(subject="c-0001", kind="customer", channel=channel, device_id="d1")
    token, _ = tokens.issue(principal)
    event = json.loads(raw.replace(TOKEN_PLACEHOLDER, token))
    result = handler(event, None)  # type: ignore[operator]
    assert result["principalId"] == "c-0001"
    statement = result["policyDocument"]["Statement"]
    assert [s["Effect"] for s in statement] == ["Allow"]
    arn_prefix = "/".join(event["methodArn"].split("/")[:2])
    assert statement[0]["Resource"] == f"{arn_prefix}/*/*"
    assert result["context"] == principal.context()
    assert all(isinstance(v, str) for v in result["context"].values())
    # The placeholder itself (no valid token) is refused the way API Gateway expects.
    with pytest.raises(Exception, match="Unauthorized"):
        handler(template_event, None)  # type: ignore[operator]
