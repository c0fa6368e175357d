"""Contract 7: the committed OpenAPI document is current and covers exactly the API.

The document (`python -m infra.openapi` → functions/apidocs/apidocs_center/openapi.json, served in AWS,
and docs/openapi.json) must equal what infra.openapi.render() builds now. It lists exactly the routes
recorded in bank_common.http.ROUTES; every template API event is in it, except the two routes that serve
the documentation itself (GET /v1/openapi.json and GET /v1/docs, plain Chalice routes of the apidocs
center, not RouteSpecs).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra import centers, openapi, template

ROOT = Path(__file__).resolve().parents[2]
DOC_ROUTES = {("GET", "/v1/openapi.json"), ("GET", "/v1/docs")}
REGENERATE = "regenerate with `.venv/bin/python -m infra.openapi` and commit"


@pytest.fixture(scope="module")
def rendered() -> str:
    return openapi.render()


@pytest.mark.parametrize("target", openapi.TARGETS, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_document_is_current(target: Path, rendered: str) -> None:
    assert target.is_file(), f"{target.relative_to(ROOT)} is missing: {REGENERATE}"
    committed = target.read_text(encoding="utf-8")
    assert json.loads(committed) == json.loads(rendered), f"{target.relative_to(ROOT)} is stale: {REGENERATE}"
    assert committed == rendered, f"{target.relative_to(ROOT)} is not in render()'s format: {REGENERATE}"


def operations(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}


def test_document_lists_exactly_the_route_specs(rendered: str) -> None:
    centers.load_all()
    from bank_common.http import ROUTES

    doc = json.loads(rendered)
    assert doc["openapi"].startswith("3.")
    assert operations(doc) == {(s.method.upper(), s.path) for s in ROUTES}
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_every_template_api_event_is_documented(rendered: str) -> None:
    documented = operations(json.loads(rendered))
    events = {(r.method, r.path) for r in template.api_routes()}
    assert DOC_ROUTES <= events, "the documentation routes are expected in template.yaml"
    undocumented = sorted(events - documented - DOC_ROUTES)
    assert not undocumented, f"API events missing from the OpenAPI document: {undocumented}"
    assert not documented - events, f"documented but not deployed: {sorted(documented - events)}"


def test_protected_routes_declare_security(rendered: str) -> None:
    doc = json.loads(rendered)
    public = {(r.method, r.path) for r in template.api_routes() if r.public}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            secured = bool(op.get("security"))
            assert secured != ((method.upper(), path) in public), f"{method.upper()} {path}: security={secured}"


def test_document_is_valid_openapi_31(rendered: str) -> None:
    """The whole document, schemas included, validates against the OpenAPI 3.1 meta-schema."""
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    doc = json.loads(rendered)
    assert doc["openapi"] == "3.1.0"
    validate(doc)
    broken = json.loads(rendered)
    broken["paths"]["/v1/account/transfers"]["post"]["responses"] = "none"
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_request_schemas_match_what_the_api_accepts(rendered: str) -> None:
    """A documented example of each request validates against its schema (and the schema is strict)."""
    import jsonschema

    doc = json.loads(rendered)
    schemas = doc["components"]["schemas"]
    registry_doc = {"components": {"schemas": schemas}}
    transfer = {"$ref": "#/components/schemas/TransferIn", **registry_doc}
    validator = jsonschema.Draft202012Validator(transfer)
    assert validator.is_valid({"from_account": "6230910000000001", "to_account": "6230910000000002",
                               "amount": "125.50"})
    assert not validator.is_valid({"from_account": "6230910000000001", "to_account": "6230910000000002",
                                   "amount": 125.5})
    assert not validator.is_valid({"from_account": "6230910000000001", "to_account": "6230910000000002",
                                   "amount": "1.00", "extra": 1})
