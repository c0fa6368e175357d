"""Contract: the templates ⇄ the code, and the deployed shape AWS would build from them.

The platform is a root stack (template.yaml: layers, the one REST API, permissions) and one nested stack
per center (infra/stacks/). Checked here, offline:
- routes: every operation of the API's definition is exactly one Chalice route of its function's center,
  public exactly where the route spec says; every Chalice route is reachable;
- wiring: every integration, the authorizer and every invoke permission point at a function's live alias
  (so canary deployments shift real traffic), each permission for exactly its method and path;
- canaries: every function deploys through CodeDeploy with one alarm that watches its alias's Lambda
  errors, its own Failures metric (5xx answers, failed messages) and p99 duration;
- logs: every log group keeps events for a set period and every function logs into one; scheduled triggers
  dead-letter what they cannot deliver;
- gateway error responses render as JSON in the error format, whatever the error message holds;
- cfn-lint is clean on every template as written and as SAM translates it, and every stack, projected to
  the whole platform (250 functions), stays under the 450-resource guard (CloudFormation allows 500).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from infra import centers, template
from infra.deploy import load_template
from infra.gateway import render
from infra.translate import translate, translated

ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
MAX_RESOURCES = 450  # CloudFormation allows 500 per stack; keep headroom
FUNCTION = "AWS::Serverless::Function"


# ------------------------------------------------------------------------------------------ routes


def chalice_routes() -> dict[tuple[str, str], list[str]]:
    """(METHOD, path) → the centers whose own Chalice app serves it."""
    served: dict[tuple[str, str], list[str]] = {}
    for center in centers.center_names():
        app = centers.load(center).app
        for path, methods in app.routes.items():
            for method in methods:
                served.setdefault((method.upper(), path), []).append(center)
    return served


def test_template_has_api_routes() -> None:
    assert len(template.api_routes()) >= 5


def test_every_api_operation_is_one_route_of_its_own_center() -> None:
    served = chalice_routes()
    problems = []
    for route in template.api_routes():
        owners = served.get((route.method, route.path), [])
        if not owners:
            problems.append(f"{route.function.logical_id}: {route.method} {route.path} has no Chalice route")
        elif owners != [route.function.center]:
            problems.append(f"{route.function.logical_id} (CodeUri {route.function.code_uri}): "
                            f"{route.method} {route.path} is served by {owners}")
    counts = Counter((r.method, r.path) for r in template.api_routes())
    problems += [f"{m} {p} is the operation of {n} functions" for (m, p), n in counts.items() if n > 1]
    assert not problems, "\n".join(problems)


def test_every_chalice_route_is_one_api_operation() -> None:
    operations = {(r.method, r.path) for r in template.api_routes()}
    problems = []
    for (method, path), owners in sorted(chalice_routes().items()):
        if len(owners) > 1:
            problems.append(f"{method} {path} is served by several centers: {owners}")
        if (method, path) not in operations:
            problems.append(f"{method} {path} ({owners[0]}) is not in the API's definition: it is unreachable")
    assert not problems, "\n".join(problems)


def test_public_flag_matches_route_specs() -> None:
    centers.load_all()
    from bank_common.http import ROUTES

    by_key = {(r.method, r.path): r for r in template.api_routes()}
    assert ROUTES, "no RouteSpec recorded: the centers' routes did not load"
    problems = []
    keys = Counter((s.method.upper(), s.path) for s in ROUTES)
    problems += [f"{m} {p} recorded {n} times in ROUTES" for (m, p), n in keys.items() if n > 1]
    for spec in ROUTES:
        route = by_key.get((spec.method.upper(), spec.path))
        if route is None:
            problems.append(f"{spec.method} {spec.path}: RouteSpec without an API operation")
            continue
        if route.public != spec.public:
            problems.append(f"{spec.method} {spec.path}: template public={route.public} "
                            f"({route.function.logical_id}), RouteSpec.public={spec.public}")
        if spec.center != route.function.center:
            problems.append(f"{spec.method} {spec.path}: RouteSpec.center={spec.center!r}, "
                            f"deployed from {route.function.code_uri}")
    assert not problems, "\n".join(problems)


def test_only_documentation_routes_are_outside_route_specs() -> None:
    """Routes not made with bank_common.http.route skip its channel/auth/error handling; only the two
    public documentation routes of the apidocs center may do so."""
    centers.load_all()
    from bank_common.http import ROUTES

    specs = {(s.method.upper(), s.path) for s in ROUTES}
    outside = {(r.method, r.path, r.public) for r in template.api_routes() if (r.method, r.path) not in specs}
    assert outside == {("GET", "/v1/openapi.json", True), ("GET", "/v1/docs", True)}


# ------------------------------------------------------------------------------------------ wiring


NAMED_ACROSS_STACKS = {FUNCTION, "AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::CloudWatch::Alarm"}


def test_logical_ids_are_unique_across_stacks() -> None:
    """Functions, tables, queues and alarms are named by logical id alone (the local run, the deploy CLI)."""
    seen: Counter[str] = Counter(k for s in template.stacks() for k, v in s.resources.items()
                                 if v["Type"] in NAMED_ACROSS_STACKS)
    assert [k for k, n in seen.items() if n > 1] == []


def test_nested_stacks_get_exactly_their_parameters() -> None:
    for stack in template.stacks()[1:]:
        declared = stack.body.get("Parameters") or {}
        required = {k for k, v in declared.items() if "Default" not in v}
        assert set(stack.passed) >= required, f"{stack.logical_id}: not passed {sorted(required - set(stack.passed))}"
        unknown = sorted(set(stack.passed) - set(declared))
        assert not unknown, f"{stack.logical_id}: passed parameters it does not declare: {unknown}"
        for value in stack.passed.values():  # every value the root passes resolves
            template.resolve(template.ROOT_STACK, value)


def alias_of(value: Any, stack_id: str = template.ROOT_STACK) -> str:
    """The function whose live alias this value names (fails for a bare function or anything else)."""
    target = template.resolve(stack_id, value)
    assert isinstance(target, template.ResourceRef) and target.attribute == "Alias", \
        f"{value!r} resolves to {target!r}, not a function's live alias"
    assert target.logical_id in template.resources(FUNCTION)
    return target.logical_id


def test_every_operation_and_the_authorizer_invoke_a_live_alias() -> None:
    body = template.api()["DefinitionBody"]
    uris = [op["x-amazon-apigateway-integration"]["uri"] for ops in body["paths"].values() for op in ops.values()]
    authorizer = next(iter(body["components"]["securitySchemes"].values()))["x-amazon-apigateway-authorizer"]
    for uri in [*uris, authorizer["authorizerUri"]]:
        text = uri["Fn::Sub"]
        found = re.search(r"\$\{(\w+)\.Outputs\.(\w+)\}", text)
        assert found and text.endswith("/invocations"), text
        assert text.startswith("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/")
        alias_of({"Fn::GetAtt": [found.group(1), f"Outputs.{found.group(2)}"]})


def test_invoke_permissions_are_per_alias_method_and_path() -> None:
    permissions = {k: v["Properties"] for k, v in template.root().resources.items()
                   if v["Type"] == "AWS::Lambda::Permission"}
    wanted = {(r.function.logical_id, r.method, re.sub(r"\{\w+\}", "*", r.path)) for r in template.api_routes()}
    wanted.add((template.authorizer().function.logical_id, "authorizers", ""))
    have = set()
    for name, props in permissions.items():
        assert props["Action"] == "lambda:InvokeFunction" and props["Principal"] == "apigateway.amazonaws.com"
        source = props["SourceArn"]["Fn::Sub"]
        prefix = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${BankApi}/"
        assert source.startswith(prefix), f"{name}: {source}"
        rest = source[len(prefix):]
        if rest == "authorizers/*":
            have.add((alias_of(props["FunctionName"]), "authorizers", ""))
        else:
            stage, method, path = rest.split("/", 2)
            assert stage == "*", f"{name}: {source}"
            have.add((alias_of(props["FunctionName"]), method, "/" + path))
    assert have == wanted


def test_authorizer_caches_per_token_channel_and_device() -> None:
    """A token is bound to its channel and device, so the cache is per token x channel x device; and revocation
    (logout, revoke-all, a reused refresh token) takes effect within the cache time, which is short for that."""
    auth = template.authorizer()
    assert auth.identity_headers == ("Authorization", "X-Channel", "X-Device-Id")
    assert 0 < auth.ttl_seconds <= 30


# ------------------------------------------------------------------------------------------ canaries


def function_resources() -> list[tuple[template.Stack, str, dict[str, Any]]]:
    return [(s, k, v) for s in template.stacks() for k, v in s.resources.items() if v["Type"] == FUNCTION]


def globals_of(stack: template.Stack) -> dict[str, Any]:
    return dict((stack.body.get("Globals") or {}).get("Function") or {})


def test_every_center_stack_runs_functions_alike() -> None:
    expected = {"Runtime": "python3.13", "Architectures": ["arm64"], "Tracing": "Active", "AutoPublishAlias": "live",
                "Layers": [{"Ref": "CommonLayer"}, {"Ref": "DepsLayer"}],
                "LoggingConfig": {"LogGroup": {"Ref": "CenterLogs"}}}
    for stack in {s.logical_id: s for s, _, _ in function_resources()}.values():
        g = globals_of(stack)
        assert {k: g.get(k) for k in expected} == expected, stack.logical_id
        assert g["Environment"]["Variables"]["CENTER"] == Path(stack.path).stem


@pytest.mark.parametrize(("stack", "logical_id", "resource"), function_resources(),
                         ids=[k for _, k, _ in function_resources()])
def test_function_canary_alarm_watches_errors_failures_and_latency(stack: template.Stack, logical_id: str,
                                                                 resource: dict[str, Any]) -> None:
    preference = resource["Properties"]["DeploymentPreference"]
    assert preference["Type"] == {"Ref": "DeploymentType"}
    assert preference["Alarms"] == [{"Ref": f"{logical_id}CanaryAlarm"}]
    alarm = stack.resources[f"{logical_id}CanaryAlarm"]["Properties"]
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    alias_dims = [{"Name": "FunctionName", "Value": {"Ref": logical_id}},
                  {"Name": "Resource", "Value": {"Fn::Sub": f"${{{logical_id}}}:live"}}]
    assert metrics["errors"]["MetricStat"]["Metric"] == {"Namespace": "AWS/Lambda", "MetricName": "Errors",
                                                         "Dimensions": alias_dims}
    assert metrics["p99"]["MetricStat"]["Metric"] == {"Namespace": "AWS/Lambda", "MetricName": "Duration",
                                                      "Dimensions": alias_dims}
    assert metrics["p99"]["MetricStat"]["Stat"] == "p99"
    namespace = globals_of(stack)["Environment"]["Variables"]["METRICS_NAMESPACE"]
    assert metrics["failures"]["MetricStat"]["Metric"] == {
        "Namespace": namespace, "MetricName": "Failures",
        "Dimensions": [{"Name": "function", "Value": {"Ref": logical_id}}]}
    assert metrics["errors"]["MetricStat"]["Stat"] == metrics["failures"]["MetricStat"]["Stat"] == "Sum"
    returned = [m for m in alarm["Metrics"] if m.get("ReturnData", True)]
    assert len(returned) == 1
    expression = returned[0]["Expression"]["Fn::Sub"]
    assert {"errors", "failures", "p99", "${CanaryLatencyP99Ms}"} <= set(re.findall(r"[\w${}]+", expression))
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == \
        (1, "GreaterThanOrEqualToThreshold", "notBreaching")


def test_failures_metric_is_what_the_layer_emits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The alarm's Failures metric (namespace, name, dimension) is the EMF record the layer writes."""
    import io
    from contextlib import redirect_stdout

    from bank_common import config, obs

    monkeypatch.setenv("METRICS_DISABLED", "false")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "bank-prod-CreateTransfer-x1")
    monkeypatch.setenv("METRICS_NAMESPACE", "BankMiddlePlatform")
    config.reset_settings()
    out = io.StringIO()
    with redirect_stdout(out):
        obs.emit_request(503)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    failures = [r for r in records if r["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] == "Failures"]
    assert len(failures) == 1
    directive = failures[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "BankMiddlePlatform" and directive["Dimensions"] == [["function"]]
    assert failures[0]["function"] == "bank-prod-CreateTransfer-x1" and failures[0]["Failures"] == 1


def test_events_not_sent_are_alarmed_where_they_are_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Events are sent best effort (decision 0045): a send that fails writes EventNotSent by center, and every
    stack with a function that sends them has an alarm on exactly that metric."""
    import io
    from contextlib import redirect_stdout

    from bank_common import config, events

    monkeypatch.setenv("METRICS_DISABLED", "false")
    monkeypatch.setenv("CENTER", "user")
    config.reset_settings()
    out = io.StringIO()
    with redirect_stdout(out):
        events._not_sent("KycPassed", RuntimeError("down"))
    [record] = [json.loads(line) for line in out.getvalue().splitlines() if '"_aws"' in line]
    assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["center"]] and record["center"] == "user"
    senders = {(stack.logical_id, str(globals_of(stack).get("Environment", {}).get("Variables", {}).get("CENTER")))
               for stack, _id, resource in function_resources()
               if {"DOMAIN_EVENT_BUS", "BEHAVIOUR_QUEUE_URL"} & set(
                   (resource["Properties"].get("Environment") or {}).get("Variables") or {})}
    assert {center for _, center in senders} >= {"user", "account", "marketing"}, senders
    for stack_name, center in senders:
        stack = next(s for s in template.stacks() if s.logical_id == stack_name)
        alarms = [r["Properties"] for r in stack.resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"
                  and r["Properties"].get("MetricName") == "EventNotSent"]
        assert [(a["Namespace"], a["Dimensions"], a["Statistic"]) for a in alarms] == \
            [("BankMiddlePlatform", [{"Name": "center", "Value": center}], "Sum")], stack_name


# ------------------------------------------------------------------------------------------ logs, schedules


def test_every_log_group_keeps_events_for_a_set_period() -> None:
    groups = {k: v for s in template.stacks() for k, v in s.resources.items() if v["Type"] == "AWS::Logs::LogGroup"}
    assert groups
    for name, group in groups.items():
        assert group["Properties"].get("RetentionInDays") == {"Ref": "LogRetentionDays"}, name
    for stack, logical_id, resource in function_resources():
        config = resource["Properties"].get("LoggingConfig") or globals_of(stack).get("LoggingConfig")
        assert config and config["LogGroup"]["Ref"] in groups, f"{logical_id} logs to a group without retention"


def test_every_schedule_dead_letters() -> None:
    for _stack, logical_id, resource in function_resources():
        for name, event in (resource["Properties"].get("Events") or {}).items():
            if event["Type"] in ("Schedule", "ScheduleV2"):
                assert event["Properties"].get("DeadLetterConfig"), f"{logical_id}.{name} has no dead-letter target"


# ------------------------------------------------------------------------------------------ gateway responses


@pytest.mark.parametrize("kind", sorted(template.gateway_responses()))
def test_gateway_responses_render_as_json_errors(kind: str) -> None:
    response = template.gateway_responses()[kind]
    text = response["ResponseTemplates"]["application/json"]
    for message in ("Invalid request body", 'He said "no" \\ and left\nat once', "Missing Authentication Token"):
        body = json.loads(render(text, "req-123", message))
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "request_id"}, body
        assert body["error"]["request_id"] == "req-123" and re.fullmatch(r"[A-Z_]+", body["error"]["code"])
        if "messageString" in text:
            assert body["error"]["message"] == message


# ------------------------------------------------------------------------------------------ lint, size


def run_cfn_lint(path: Path, *extra: str) -> list[dict[str, Any]]:
    proc = subprocess.run([str(CFN_LINT), "--format", "json", *extra, "--", str(path)], capture_output=True,
                          text=True, timeout=300, cwd=ROOT)
    assert proc.returncode in (0, 2, 4, 6, 8, 10, 12, 14), f"cfn-lint crashed ({proc.returncode}): {proc.stderr}"
    matches: list[dict[str, Any]] = json.loads(proc.stdout or "[]")
    return matches


def describe(matches: list[dict[str, Any]]) -> str:
    return "\n".join(f"{m['Rule']['Id']} {m['Location']['Path']}: {m['Message']}" for m in matches)


STACK_PATHS = [s.path for s in template.stacks()]


@pytest.mark.parametrize("path", STACK_PATHS, ids=lambda p: p.name)
def test_cfn_lint_clean_on_template(path: Path) -> None:
    matches = run_cfn_lint(path)
    assert matches == [], describe(matches)


@pytest.mark.parametrize("path", STACK_PATHS, ids=lambda p: p.name)
def test_translated_stack_is_lint_clean_and_under_the_guard(path: Path, tmp_path: Path) -> None:
    result = translated(path)
    by_type = Counter(r["Type"] for r in result["Resources"].values())
    print(f"{path.name}: {len(result['Resources'])} resources: "
          + ", ".join(f"{t}={n}" for t, n in by_type.most_common()))
    assert not any(t.startswith("AWS::Serverless::") for t in by_type), "untranslated SAM resources left"
    assert len(result["Resources"]) < MAX_RESOURCES
    out = tmp_path / "translated.json"
    out.write_text(json.dumps(result, indent=1))
    # W2001 "Parameter DeploymentType not used": SAM resolves DeploymentPreference.Type into the CodeDeploy
    # deployment group while transforming, so the parameter has no reference left afterwards (it is used in
    # the template as written, which the test above lints without ignoring W2001).
    remaining = [m for m in run_cfn_lint(out)
                 if not (m["Rule"]["Id"] == "W2001" and m["Location"]["Path"][:2] == ["Parameters", "DeploymentType"])]
    assert remaining == [], describe(remaining)


def test_translated_functions_log_with_retention_and_schedules_dead_letter() -> None:
    for path in STACK_PATHS:
        resources = translated(path)["Resources"]
        for name, res in resources.items():
            if res["Type"] == "AWS::Lambda::Function":
                assert res["Properties"]["LoggingConfig"]["LogGroup"], name
            if res["Type"] == "AWS::Scheduler::Schedule":
                assert res["Properties"]["Target"]["DeadLetterConfig"]["Arn"], name


# The whole platform, projected: 250 functions over the eight centers as the design expects them to grow.
PROJECTED = {"user": 30, "auth": 30, "account": 40, "contract": 25, "product": 20, "finance": 60, "life": 20,
             "marketing": 25}


def project_center(center: str, count: int) -> dict[str, Any]:
    """A center stack with `count` functions: its own (or the account center's, for centers still to come)
    cloned round-robin, each with its canary alarm, events and policies."""
    source = ROOT / "infra" / "stacks" / f"{center}.yaml"
    if not source.exists() or not any(r["Type"] == FUNCTION for r in load_template(source)["Resources"].values()):
        source = ROOT / "infra" / "stacks" / "account.yaml"
    body = load_template(source)
    functions = [k for k, v in body["Resources"].items() if v["Type"] == FUNCTION]
    index = 0
    while sum(1 for v in body["Resources"].values() if v["Type"] == FUNCTION) < count:
        original = functions[index % len(functions)]
        clone = f"Projected{index}{original}"
        text = json.dumps({original: body["Resources"][original],
                           f"{original}CanaryAlarm": body["Resources"][f"{original}CanaryAlarm"]})
        text = re.sub(rf"\b{original}\b", clone, text)
        body["Resources"].update(json.loads(text))
        index += 1
    return translate(body, source.parent)


def project_root(total: int) -> dict[str, Any]:
    """The root stack with `total` API operations, each with its invoke permission."""
    body = load_template(template.TEMPLATE)
    paths = body["Resources"]["BankApi"]["Properties"]["DefinitionBody"]["paths"]
    model_path, model_ops = next(iter(paths.items()))
    permission = next(k for k, v in body["Resources"].items()
                      if v["Type"] == "AWS::Lambda::Permission" and k != "AuthorizerInvokePermission")
    for i in range(total - len(template.api_routes())):
        paths[f"{model_path}/projected{i}"] = copy.deepcopy(model_ops)
        body["Resources"][f"Projected{i}{permission}"] = copy.deepcopy(body["Resources"][permission])
    return translate(body, ROOT)


def test_projected_platform_keeps_every_stack_under_the_guard() -> None:
    assert sum(PROJECTED.values()) == 250
    counts = {center: len(project_center(center, n)["Resources"]) for center, n in PROJECTED.items()}
    counts["root"] = len(project_root(sum(PROJECTED.values()))["Resources"])
    print("projected resources per stack: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    assert all(n < MAX_RESOURCES for n in counts.values()), counts


# ------------------------------------------------------------------------------------------ requirements


def requirement_lines(path: Path) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()
            if line.split("#", 1)[0].strip()]


def test_runtime_requirements_are_the_deps_layer_fully_pinned() -> None:
    """The layer is installed with --no-deps: every distribution it needs is listed, each pinned exactly,
    and the functions' runtime requirements are that list (the dev venv installs the same versions)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    assert requirement_lines(ROOT / "requirements.txt") == ["-r layers/deps/requirements.txt"]
    names = []
    for line in requirement_lines(ROOT / "layers" / "deps" / "requirements.txt"):
        req = Requirement(line)
        assert len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==", f"not pinned: {line}"
        assert not req.extras, f"extras would pull unlisted distributions: {line}"
        names.append(canonicalize_name(req.name))
    assert len(names) == len(set(names)), "a distribution is listed twice"
    assert {"chalice", "botocore", "pynamodb", "msgspec"} <= set(names)
    assert not {"boto3", "pip", "setuptools", "wheel", "click", "pyyaml"} & set(names)


# ------------------------------------------------------------------------------------------ channels' usage plans


def test_every_channel_has_a_usage_plan_and_every_channel_operation_needs_a_key() -> None:
    """API Gateway meters and throttles each channel by its API key (docs/decisions/0018): one plan per channel,
    and every operation a channel calls requires a key; only the documentation, the JWKS and the billers'
    callbacks (read or called by services, not channels; a callback is signed instead) do not."""
    from bank_common import config

    plans = template.usage_plans()
    assert set(plans) == set(config.CHANNELS)
    assert all(p.rate_limit > 0 and p.burst_limit >= p.rate_limit and p.daily_quota for p in plans.values())
    assert template.api()["DefinitionBody"]["x-amazon-apigateway-api-key-source"] == "HEADER"
    keyless = {(r.method, r.path) for r in template.api_routes() if not r.api_key_required}
    assert keyless == {("GET", "/v1/openapi.json"), ("GET", "/v1/docs"), ("GET", "/v1/auth/jwks"),
                       ("POST", "/v1/life/callbacks/{biller_id}")}
    centers.load_all()
    from bank_common.http import ROUTES

    assert {(s.method.upper(), s.path) for s in ROUTES if not s.channel_required} == {
        ("GET", "/v1/auth/jwks"), ("POST", "/v1/life/callbacks/{biller_id}")}
