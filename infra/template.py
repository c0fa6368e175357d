"""Reading the templates: the root stack (template.yaml) and one nested stack per center (infra/stacks/).

The templates are the one source of truth for tables, queues, functions, API routes and the authorizer;
the local run, the tests and the deploy CLI all read them through this module. Logical ids are unique
across every stack (a contract test says so), so a table, queue or function is named by its logical id
alone; `stack_of` tells which stack holds it.

Values that cross stacks are followed the way CloudFormation would: `!Ref Param` in a nested stack goes
to what the root passes for it, `!GetAtt Center.Outputs.X` goes to that stack's output, and so on until a
resource or a literal is reached (`resolve`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from infra.deploy import load_template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
NESTED = ("AWS::Serverless::Application", "AWS::CloudFormation::Stack")
FUNCTION = "AWS::Serverless::Function"
ROOT_STACK = ""  # the root stack's id in `Stack.logical_id`


@dataclass(frozen=True)
class Stack:
    logical_id: str  # the nested stack's logical id in the root, or "" for the root
    path: Path
    body: dict[str, Any]
    passed: dict[str, Any]  # Parameters the root passes to it (unresolved)

    @property
    def resources(self) -> dict[str, Any]:
        return dict(self.body.get("Resources") or {})


@cache
def stacks() -> tuple[Stack, ...]:
    root = Stack(ROOT_STACK, TEMPLATE, load_template(TEMPLATE), {})
    found = [root]
    for logical_id, res in root.resources.items():
        if res.get("Type") in NESTED:
            props = res.get("Properties") or {}
            location = props.get("Location") or props.get("TemplateURL")
            path = (ROOT / str(location)).resolve()
            found.append(Stack(logical_id, path, load_template(path), dict(props.get("Parameters") or {})))
    return tuple(found)


def stack(logical_id: str) -> Stack:
    for s in stacks():
        if s.logical_id == logical_id:
            return s
    raise KeyError(f"no stack {logical_id!r}")


def root() -> Stack:
    return stacks()[0]


def template() -> dict[str, Any]:
    """The root template (the API, the layers, the nested stacks)."""
    return root().body


def stack_of(logical_id: str) -> Stack:
    for s in stacks():
        if logical_id in s.resources:
            return s
    raise KeyError(f"no resource {logical_id!r} in any stack")


def resources(kind: str) -> dict[str, dict[str, Any]]:
    """Every resource of this type in every stack, by logical id."""
    return {k: v for s in stacks() for k, v in s.resources.items() if v.get("Type") == kind}


# --- following values across stacks ------------------------------------------------------------------

@dataclass(frozen=True)
class ResourceRef:
    """A value that names a resource: its Ref (attribute None) or one of its attributes."""

    logical_id: str
    attribute: str | None = None


class Unresolvable(ValueError):
    pass


def resolve(stack_id: str, value: Any, overrides: dict[str, str] | None = None) -> ResourceRef | str:
    """A literal string, or the resource a `Ref`/`GetAtt` in this stack leads to (parameters and nested
    stack outputs are followed). `overrides` replaces root parameters (e.g. {"Stage": "local"})."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value)
    here = stack(stack_id)
    if isinstance(value, dict) and "Ref" in value:
        name = str(value["Ref"])
        target, _, attribute = name.partition(".")
        if target in here.resources:
            return ResourceRef(target, attribute or None)
        if name in (here.body.get("Parameters") or {}):
            if stack_id == ROOT_STACK:
                if overrides and name in overrides:
                    return overrides[name]
                default = here.body["Parameters"][name].get("Default")
                if default is None:
                    raise Unresolvable(f"root parameter {name} has no default")
                return str(default)
            if name not in here.passed:
                raise Unresolvable(f"the root passes nothing for {stack_id}.{name}")
            return resolve(ROOT_STACK, here.passed[name], overrides)
        raise Unresolvable(f"{stack_id or 'root'}: Ref {name} names nothing")
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target, attribute = _getatt(value["Fn::GetAtt"])
        resource = here.resources.get(target)
        if resource is None:
            raise Unresolvable(f"{stack_id or 'root'}: GetAtt {target} names nothing")
        if resource.get("Type") in NESTED and attribute.startswith("Outputs."):
            output = attribute.removeprefix("Outputs.")
            outputs = stack(target).body.get("Outputs") or {}
            if output not in outputs:
                raise Unresolvable(f"stack {target} has no output {output}")
            return resolve(target, outputs[output]["Value"], overrides)
        return ResourceRef(target, attribute)
    raise Unresolvable(f"{stack_id or 'root'}: cannot follow {value!r}")


def _getatt(raw: Any) -> tuple[str, str]:
    if isinstance(raw, str):
        target, _, attribute = raw.partition(".")
        return target, attribute
    return str(raw[0]), ".".join(str(p) for p in raw[1:])


# --- functions -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class FunctionDef:
    logical_id: str
    stack: str  # the nested stack that holds it
    code_uri: str  # relative to the repository root, e.g. "functions/account"
    handler: str
    env: dict[str, Any]  # Globals' variables overlaid with the function's own (unresolved)
    events: dict[str, Any]
    properties: dict[str, Any]

    @property
    def center(self) -> str:
        return Path(self.code_uri).name

    @property
    def code_dir(self) -> Path:
        return ROOT / self.code_uri


def functions() -> list[FunctionDef]:
    out = []
    for s in stacks():
        globals_fn = (s.body.get("Globals") or {}).get("Function") or {}
        global_env = (globals_fn.get("Environment") or {}).get("Variables") or {}
        for logical_id, res in s.resources.items():
            if res.get("Type") != FUNCTION:
                continue
            props = res["Properties"]
            code_dir = (s.path.parent / str(props.get("CodeUri", globals_fn.get("CodeUri")))).resolve()
            env = {**global_env, **((props.get("Environment") or {}).get("Variables") or {})}
            out.append(FunctionDef(logical_id, s.logical_id, code_dir.relative_to(ROOT).as_posix(),
                                   str(props.get("Handler", globals_fn.get("Handler"))), env,
                                   dict(props.get("Events") or {}), dict(props)))
    return out


def function(logical_id: str) -> FunctionDef:
    for fn in functions():
        if fn.logical_id == logical_id:
            return fn
    raise KeyError(f"no function {logical_id!r}")


def function_of(value: Any, stack_id: str = ROOT_STACK) -> FunctionDef:
    """The function a value (an alias ARN passed between stacks, an integration URI's variable) names."""
    target = resolve(stack_id, value)
    if not isinstance(target, ResourceRef):
        raise Unresolvable(f"{value!r} names no function")
    return function(target.logical_id)


# --- the API ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    public: bool  # no authorizer
    function: FunctionDef
    api_key_required: bool = False  # the channel's API key (x-api-key) must come with it


@dataclass(frozen=True)
class Authorizer:
    function: FunctionDef
    identity_headers: tuple[str, ...]
    ttl_seconds: int


def api() -> dict[str, Any]:
    apis = {k: v for k, v in root().resources.items() if v.get("Type") == "AWS::Serverless::Api"}
    assert len(apis) == 1, f"expected one API in the root stack, found {sorted(apis)}"
    return dict(next(iter(apis.values()))["Properties"])


_STACK_OUTPUT = re.compile(r"\$\{([A-Za-z0-9]+)\.Outputs\.([A-Za-z0-9]+)\}")


def _integration_function(uri: Any) -> FunctionDef:
    text = uri.get("Fn::Sub") if isinstance(uri, dict) else None
    if isinstance(text, list):
        text = text[0]
    found = _STACK_OUTPUT.search(str(text))
    if not found:
        raise Unresolvable(f"integration uri {uri!r} does not name a nested stack's output")
    return function_of({"Fn::GetAtt": [found.group(1), f"Outputs.{found.group(2)}"]})


@cache
def api_routes() -> tuple[ApiRoute, ...]:
    routes = []
    for path, operations in (api()["DefinitionBody"].get("paths") or {}).items():
        for method, operation in operations.items():
            integration = operation.get("x-amazon-apigateway-integration") or {}
            schemes = {name for requirement in operation.get("security") or [] for name in requirement}
            routes.append(ApiRoute(method.upper(), path, authorizer_scheme() not in schemes,
                                   _integration_function(integration.get("uri")), API_KEY_SCHEME in schemes))
    return tuple(routes)


API_KEY_SCHEME = "ChannelKey"


def authorizer_scheme() -> str:
    """The security scheme that is the Lambda authorizer (the other one is the channels' API key)."""
    schemes = (api()["DefinitionBody"].get("components") or {}).get("securitySchemes") or {}
    found = [name for name, scheme in schemes.items() if "x-amazon-apigateway-authorizer" in scheme]
    assert len(found) == 1, f"expected one authorizer, found {found}"
    return found[0]


@dataclass(frozen=True)
class UsagePlan:
    """A channel's usage plan: its API key's name ends with the channel."""

    channel: str
    rate_limit: float
    burst_limit: int
    daily_quota: int | None


def usage_plans() -> dict[str, UsagePlan]:
    """channel → its usage plan (the root's UsagePlan, UsagePlanKey and ApiKey resources)."""
    resources = root().resources
    out = {}
    for res in resources.values():
        if res.get("Type") != "AWS::ApiGateway::UsagePlanKey":
            continue
        props = res["Properties"]
        key = resources[props["KeyId"]["Ref"]]["Properties"]
        plan = resources[props["UsagePlanId"]["Ref"]]["Properties"]
        name = key["Name"]["Fn::Sub"] if isinstance(key["Name"], dict) else str(key["Name"])
        channel = name.rsplit("-", 1)[1]
        throttle, quota = plan.get("Throttle") or {}, plan.get("Quota") or {}
        out[channel] = UsagePlan(channel, float(throttle.get("RateLimit", 0)), int(throttle.get("BurstLimit", 0)),
                                 int(quota["Limit"]) if quota.get("Period") == "DAY" else None)
    return out


@cache
def authorizer() -> Authorizer:
    schemes = (api()["DefinitionBody"].get("components") or {}).get("securitySchemes") or {}
    config = schemes[authorizer_scheme()]["x-amazon-apigateway-authorizer"]
    headers = tuple(part.strip().removeprefix("method.request.header.")
                    for part in str(config["identitySource"]).split(","))
    return Authorizer(_integration_function(config["authorizerUri"]), headers,
                      int(config.get("authorizerResultTtlInSeconds", 300)))


def gateway_responses() -> dict[str, dict[str, Any]]:
    return dict(api().get("GatewayResponses") or {})
