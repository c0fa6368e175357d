"""Reading template.yaml: the one source of truth for tables, queues, functions and API routes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from infra.deploy import load_template

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


@cache
def template() -> dict[str, Any]:
    return load_template(TEMPLATE)


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template()["Resources"].items() if v.get("Type") == kind}


@dataclass(frozen=True)
class FunctionDef:
    logical_id: str
    code_uri: str
    handler: str
    env: dict[str, Any]
    events: dict[str, Any]

    @property
    def center(self) -> str:
        return Path(self.code_uri).name


def functions() -> list[FunctionDef]:
    out = []
    for logical_id, res in resources("AWS::Serverless::Function").items():
        props = res["Properties"]
        env = (props.get("Environment") or {}).get("Variables") or {}
        out.append(FunctionDef(logical_id, props["CodeUri"].rstrip("/"), props["Handler"], env,
                               props.get("Events") or {}))
    return out


@dataclass(frozen=True)
class ApiRoute:
    method: str
    path: str
    public: bool
    function: FunctionDef


def api_routes() -> list[ApiRoute]:
    routes = []
    for fn in functions():
        for event in fn.events.values():
            if event.get("Type") != "Api":
                continue
            props = event["Properties"]
            public = (props.get("Auth") or {}).get("Authorizer") == "NONE"
            routes.append(ApiRoute(props["Method"].upper(), props["Path"], public, fn))
    return routes


def ref_target(value: Any) -> str | None:
    """`!Ref X` → X (also `X.Alias`), else None."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    return None
