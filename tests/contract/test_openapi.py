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


def _pointer_schema(doc: dict, schema: dict, pointer: str) -> dict | None:
    """The sub-schema a JSON pointer into a value of `schema` lands on (None: the schema has no such place)."""
    for part in [p for p in pointer.split("/") if p]:
        while "$ref" in schema:
            schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
        if part.isdigit() and "items" in schema:
            schema = schema["items"]
        elif part in schema.get("properties", {}):
            schema = schema["properties"][part]
        else:
            return None
    return schema


def test_links_name_real_operations_parameters_and_fields(rendered: str) -> None:
    """Every OpenAPI link (the stateful tests follow them) targets an operation that exists, fills parameters
    and body fields that operation has, from places the source's request or response really has."""
    doc = json.loads(rendered)
    by_id = {op["operationId"]: op for ops in doc["paths"].values() for op in ops.values()}
    problems, count = [], 0
    for ops in doc["paths"].values():
        for op in ops.values():
            for status, response in op["responses"].items():
                for name, link in response.get("links", {}).items():
                    count += 1
                    where = f"{op['operationId']} {status} link {name}"
                    target = by_id.get(link["operationId"])
                    if target is None:
                        problems.append(f"{where}: no operation {link['operationId']}")
                        continue
                    assert status.startswith("2"), f"{where}: links belong on a success response"
                    names = {p["name"] for p in target["parameters"]}
                    problems += [f"{where}: {link['operationId']} has no parameter {p}"
                                 for p in link.get("parameters", {}) if p not in names]
                    body_ref = target.get("requestBody", {}).get("content", {}).get("application/json", {})
                    for field in link.get("requestBody", {}):
                        if _pointer_schema(doc, body_ref.get("schema", {}), field) is None:
                            problems.append(f"{where}: {link['operationId']} has no body field {field}")
                    for expression in [*link.get("parameters", {}).values(), *link.get("requestBody", {}).values()]:
                        source, _, pointer = expression.partition("#")
                        schema = {"$response.body": response.get("content", {}).get("application/json", {}),
                                  "$request.body": op.get("requestBody", {}).get("content", {})
                                  .get("application/json", {})}.get(source, {}).get("schema")
                        if schema is None or _pointer_schema(doc, schema, pointer) is None:
                            problems.append(f"{where}: {expression} names nothing in {op['operationId']}")
    assert count >= 10, "the document has (almost) no links: the stateful tests would have nothing to follow"
    assert not problems, "\n".join(problems)


def test_security_names_the_kind_of_token(rendered: str) -> None:
    """Customer-only routes take a customer token, staff routes a staff token (the schemathesis hooks and
    channels read which from here)."""
    centers.load_all()
    from bank_common.http import ROUTES

    doc = json.loads(rendered)
    assert set(doc["components"]["securitySchemes"]) == {"customer", "staff"}
    for spec in ROUTES:
        security = doc["paths"][spec.path][spec.method.lower()].get("security")
        expected = (None if spec.public else [{"staff": []}] if spec.roles
                    else [{"customer": []}] if spec.customer_only else [{"customer": []}, {"staff": []}])
        assert security == expected, f"{spec.method} {spec.path}"


@pytest.mark.parametrize("value", ["k-0001-abcdef", "abcdefgh", "A" * 128, "0:1.2_3-4", "a" * 7, "A" * 129,
                                   "-abcdefgh", "_abcdefgh", "abc defgh", "abcdefgh\n", "abcdéfgh", "abc/defgh",
                                   "", "abcdefg!"])
def test_idempotency_key_schema_is_the_rule_the_api_applies(rendered: str, value: str) -> None:
    import jsonschema

    from bank_common import idempotency
    from bank_common.errors import ApiError

    doc = json.loads(rendered)
    params = doc["paths"]["/v1/account/transfers"]["post"]["parameters"]
    key_schema = next(p["schema"] for p in params if p["name"] == "Idempotency-Key")
    documented = jsonschema.Draft202012Validator(key_schema).is_valid(value)
    try:
        idempotency.require_key(value)
        accepted = True
    except ApiError:
        accepted = False
    assert documented == accepted, f"{value!r}: documented {documented}, accepted {accepted}"
