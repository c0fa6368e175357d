"""Contract 4: every trigger of every template function has a sample event in events/ that its handler
accepts, and every file in events/ belongs to a function.

Files are `events/<center>/<operation>.<source>.json` (`sam local invoke <Fn> -e <file>`), where
<operation> is the function's logical id without `Function`, in snake case, optionally without the
center prefix (CreateTransferFunction → create_transfer, UserInternalFunction → internal), and <source>
is the trigger: api, sqs, stream (a DynamoDB stream), schedule, authorizer (the API's Lambda authorizer) or
invoke (direct invoke, for functions without events). API samples are API Gateway REST proxy events;
protected routes carry the authorizer context that API Gateway adds after the authorizer allowed the call.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra import centers, template
from infra.runtime import FunctionError
from tests.support.samples import (
    API_OUTCOMES,
    NON_JSON,
    TOKEN_PLACEHOLDER,
    Sample,
    ids,
    operation_names,
    owner,
    samples,
    samples_of,
    sources,
)

# ------------------------------------------------------------------------------------------ coverage


def test_every_event_file_belongs_to_a_function() -> None:
    problems = []
    for sample in samples():
        if not sample.center or not sample.operation:
            problems.append(f"{ids(sample)}: not events/<center>/<operation>.<source>.json (samples.FILE_NAME)")
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
    if status == 204:  # No Content: nothing to parse
        assert not response.get("body"), response
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


@pytest.mark.parametrize("sample", samples_of("stream"), ids=ids)
def test_stream_sample_is_accepted(sample: Sample, runtime: Any) -> None:
    event = sample.load()
    assert event["Records"] and all(r["eventSource"] == "aws:dynamodb" for r in event["Records"])
    fn = owner(sample)
    assert fn is not None
    result = runtime.invoke(fn.logical_id, event)
    assert isinstance(result, dict) and set(result) == {"batchItemFailures"}, result
    assert result["batchItemFailures"] == [], f"{ids(sample)}: the sample records failed: {result}"


@pytest.mark.parametrize("sample", samples_of("schedule") + samples_of("eventbridge"), ids=ids)
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
    principal = tokens.Principal(subject="c-0001", kind="customer", channel=channel, device_id="d1",
                                 session_id="s-sample-0001")
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
