"""Contract: template.yaml ⇄ the code.

2. Every API event of the template is exactly one Chalice route (method + path) of the center whose
   CodeUri the function has, and every Chalice route is exactly one API event; public (Auth Authorizer
   NONE) in the template equals RouteSpec.public.
5. cfn-lint is clean on template.yaml and on the SAM-translated template, which stays well under
   CloudFormation's 500-resource limit.
8. requirements.txt and layers/deps/requirements.txt (what the deps layer is built from) agree.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from infra import centers, template
from infra.deploy import load_template

ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = Path(sys.executable).with_name("cfn-lint")
MAX_RESOURCES = 450  # CloudFormation allows 500 per stack; keep headroom for alarms, permissions, etc.


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


def test_every_api_event_is_one_route_of_its_own_center() -> None:
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
    problems += [f"{m} {p} is the event of {n} functions" for (m, p), n in counts.items() if n > 1]
    assert not problems, "\n".join(problems)


def test_every_chalice_route_is_one_api_event() -> None:
    events = {(r.method, r.path) for r in template.api_routes()}
    problems = []
    for (method, path), owners in sorted(chalice_routes().items()):
        if len(owners) > 1:
            problems.append(f"{method} {path} is served by several centers: {owners}")
        if (method, path) not in events:
            problems.append(f"{method} {path} ({owners[0]}) has no API event in template.yaml: it is unreachable")
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
        event = by_key.get((spec.method.upper(), spec.path))
        if event is None:
            problems.append(f"{spec.method} {spec.path}: RouteSpec without an API event")
            continue
        if event.public != spec.public:
            problems.append(f"{spec.method} {spec.path}: template public={event.public} "
                            f"({event.function.logical_id}), RouteSpec.public={spec.public}")
        if spec.center != event.function.center:
            problems.append(f"{spec.method} {spec.path}: RouteSpec.center={spec.center!r}, "
                            f"deployed from {event.function.code_uri}")
    assert not problems, "\n".join(problems)


def test_only_documentation_routes_are_outside_route_specs() -> None:
    """Routes not made with bank_common.http.route skip its channel/auth/error handling; only the two
    public documentation routes of the apidocs center may do so."""
    centers.load_all()
    from bank_common.http import ROUTES

    specs = {(s.method.upper(), s.path) for s in ROUTES}
    outside = {(r.method, r.path, r.public) for r in template.api_routes() if (r.method, r.path) not in specs}
    assert outside == {("GET", "/v1/openapi.json", True), ("GET", "/v1/docs", True)}


# ------------------------------------------------------------------------------------------ cfn-lint


def run_cfn_lint(path: Path, *extra: str) -> list[dict[str, Any]]:
    proc = subprocess.run([str(CFN_LINT), "--format", "json", *extra,
                           "--", str(path)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode in (0, 2, 4, 6, 8, 10, 12, 14), f"cfn-lint crashed ({proc.returncode}): {proc.stderr}"
    matches: list[dict[str, Any]] = json.loads(proc.stdout or "[]")
    return matches


def describe(matches: list[dict[str, Any]]) -> str:
    return "\n".join(f"{m['Rule']['Id']} {m['Location']['Path']}: {m['Message']}" for m in matches)


def test_cfn_lint_clean_on_template() -> None:
    matches = run_cfn_lint(ROOT / "template.yaml")
    assert matches == [], describe(matches)


class NoManagedPolicies:
    """samtranslator asks IAM for managed policy ARNs only for names outside its bundled map; offline,
    there are none (the bundled map covers AWSLambdaBasicExecutionRole and the SAM policy templates)."""

    def load(self) -> dict[str, str]:
        return {}


def packaged_template() -> dict[str, Any]:
    """template.yaml as `sam package` hands it to the transform: local CodeUri/ContentUri → S3 URIs."""
    tpl = copy.deepcopy(load_template(template.TEMPLATE))
    for logical_id, res in tpl["Resources"].items():
        props = res.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                local = ROOT / props[key]
                assert local.is_dir(), f"{logical_id}.{key} {props[key]} is not a folder"
                props[key] = f"s3://bank-artifacts/{props[key].strip('/')}.zip"
    return tpl


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-east-1")
    result: dict[str, Any] = transform(packaged_template(), {}, NoManagedPolicies())
    return result


def test_sam_translation_stays_under_resource_limit(translated: dict[str, Any]) -> None:
    count = len(translated["Resources"])
    print(f"SAM-translated template: {count} resources (limit {MAX_RESOURCES}, CloudFormation max 500)")
    by_type = Counter(r["Type"] for r in translated["Resources"].values())
    print("  " + ", ".join(f"{t}={n}" for t, n in by_type.most_common()))
    assert not any(t.startswith("AWS::Serverless::") for t in by_type), "untranslated SAM resources left"
    assert count < MAX_RESOURCES


def test_cfn_lint_clean_on_translated_template(translated: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "translated.json"
    path.write_text(json.dumps(translated, indent=1))
    matches = run_cfn_lint(path)
    # W2001 "Parameter DeploymentType not used" is an artefact of translating: SAM resolves
    # DeploymentPreference.Type (!Ref DeploymentType) into the CodeDeploy deployment group while
    # transforming, so the parameter has no reference left afterwards. It is used in template.yaml,
    # which the test above lints without ignoring W2001. Only that one match is tolerated.
    remaining = [m for m in matches
                 if not (m["Rule"]["Id"] == "W2001" and m["Location"]["Path"][:2] == ["Parameters", "DeploymentType"])]
    assert remaining == [], describe(remaining)


# ------------------------------------------------------------------------------------------ requirements


def requirement_set(path: Path) -> dict[str, str]:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    out: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        assert not line.startswith("-"), f"{path.name}: options ({line}) are not expected here"
        req = Requirement(line)
        name = canonicalize_name(req.name)
        assert name not in out, f"{path.name} lists {name} twice"
        out[name] = f"{','.join(sorted(req.extras))}|{req.specifier}|{req.marker or ''}"
    return out


def test_deps_layer_requirements_match_runtime_requirements() -> None:
    runtime = requirement_set(ROOT / "requirements.txt")
    layer = requirement_set(ROOT / "layers" / "deps" / "requirements.txt")
    assert runtime, "requirements.txt is empty"
    assert layer == runtime, (
        f"only in requirements.txt: {sorted(runtime.items() - layer.items())}; "
        f"only in layers/deps/requirements.txt: {sorted(layer.items() - runtime.items())}")
