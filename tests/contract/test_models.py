"""Contract 3: every pynamodb model ⇄ its table in the templates, and who may touch which table.

A model names its table by an env var (`Meta.table_env`); the functions' `Environment` maps that env var to
a table (`!Ref SomeTable`, or a parameter the root fills from the owning center's stack). Keys (names and
S/N types), global secondary indexes and TTL must agree with the table. A function's env may only name
tables of its own center (tag `center`), except the contract & limit center's tables the shared layer reads
and writes inside money transactions (limit usage, limit definitions, signatures: DESIGN 3, 5; decision
0023). What each function may do to those tables is proven by the IAM evaluation (test_iam.py).
"""

from __future__ import annotations

import importlib
import inspect
from collections import defaultdict
from typing import Any

import pytest
from pynamodb.attributes import TTLAttribute
from pynamodb.indexes import GlobalSecondaryIndex
from pynamodb.models import Model

from infra import centers, template

TABLE = "AWS::DynamoDB::Table"
ATTR_TYPES = {"S", "N", "B"}


def tables() -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template.resources(TABLE).items()}


def table_center(props: dict[str, Any]) -> str | None:
    tags = props.get("Tags") or []
    found = [t["Value"] for t in tags if t.get("Key") == "center"]
    return found[0] if len(found) == 1 else None


def all_models() -> dict[str, type[Model]]:
    """'<module>.<Class>' → every Model subclass defined in functions/*/*_center/models.py, plus the layer's."""
    centers.ensure_paths()
    found: dict[str, type[Model]] = {}
    for center in centers.center_names():
        for models_py in sorted((centers.FUNCTIONS / center).glob("*_center/models.py")):
            module = importlib.import_module(f"{models_py.parent.name}.models")
            for name, obj in vars(module).items():
                if inspect.isclass(obj) and issubclass(obj, Model) and obj is not Model \
                        and obj.__module__ == module.__name__:
                    found[f"{module.__name__}.{name}"] = obj
    for name, model in LAYER_MODELS().items():
        found[name] = model
    return found


def LAYER_MODELS() -> dict[str, type[Model]]:  # noqa: N802 - a constant, built lazily
    """The models of the contract center's tables that the shared layer reads and writes (DESIGN 3, 5)."""
    from bank_common.agreements import Signature
    from bank_common.limits import LimitDefinition, LimitUsage

    return {"bank_common.limits.LimitUsage": LimitUsage, "bank_common.limits.LimitDefinition": LimitDefinition,
            "bank_common.agreements.Signature": Signature}


def env_table(fn: template.FunctionDef, value: Any) -> str | None:
    """The table an env value of this function names, followed across stacks, if it names one."""
    try:
        target = template.resolve(fn.stack, value)
    except template.Unresolvable:
        return None
    return target.logical_id if isinstance(target, template.ResourceRef) and target.logical_id in tables() else None


def env_tables() -> dict[str, set[str]]:
    """env var name → the table logical ids functions point it at (should be exactly one)."""
    out: dict[str, set[str]] = defaultdict(set)
    for fn in template.functions():
        for name, value in fn.env.items():
            target = env_table(fn, value)
            if target:
                out[name].add(target)
    return dict(out)


def key_schema(schema: list[dict[str, str]]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in schema}


def model_and_table(name: str) -> tuple[type[Model], str, dict[str, Any], dict[str, str]]:
    """A model, its table's logical id and properties, and the table's attribute types by name."""
    model = MODELS[name]
    logical_id = model_table(model)
    props = tables()[logical_id]
    return model, logical_id, props, {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}


def model_table(model: type[Model]) -> str:
    env = model.Meta.table_env
    targets = env_tables().get(env, set())
    assert len(targets) == 1, f"{model.__name__}: env var {env} names tables {sorted(targets)} in template.yaml"
    return next(iter(targets))


MODELS = all_models()


def test_models_found() -> None:
    # At least one model per center that has a models.py, and the shared one.
    assert len(MODELS) >= 4
    assert "bank_common.limits.LimitUsage" in MODELS


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_keys_match_table(name: str) -> None:
    model, logical_id, props, attr_defs = model_and_table(name)
    keys = key_schema(props["KeySchema"])
    attrs = model.get_attributes()

    hash_name, range_name = model._hash_keyname, model._range_keyname
    assert hash_name is not None, f"{name} has no hash key"
    assert keys.get("HASH") == hash_name, f"{name}: hash key {hash_name}, {logical_id} has {keys.get('HASH')}"
    assert keys.get("RANGE") == range_name, f"{name}: range key {range_name}, {logical_id} has {keys.get('RANGE')}"
    for key in filter(None, (hash_name, range_name)):
        assert attrs[key].attr_type in ATTR_TYPES
        assert attr_defs.get(key) == attrs[key].attr_type, \
            f"{name}.{key} is {attrs[key].attr_type}, {logical_id} defines {attr_defs.get(key)}"


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_indexes_match_table_gsis(name: str) -> None:
    model, logical_id, props, attr_defs = model_and_table(name)
    gsis = {g["IndexName"]: g for g in props.get("GlobalSecondaryIndexes") or []}
    indexes = [v for v in vars(model).values() if isinstance(v, GlobalSecondaryIndex)]
    # pynamodb also keeps its own registry; both views must agree (guards the discovery above).
    assert {i.Meta.index_name for i in indexes} == set(model._indexes)
    for index in indexes:
        index_name = index.Meta.index_name
        assert index_name in gsis, f"{name}: index {index_name} is not a GSI of {logical_id}"
        want = key_schema(gsis[index_name]["KeySchema"])
        index_attrs = index.Meta.attributes
        have = {("HASH" if a.is_hash_key else "RANGE"): a.attr_name for a in index_attrs.values()
                if a.is_hash_key or a.is_range_key}
        assert have == want, f"{name}.{index_name}: keys {have}, {logical_id} GSI has {want}"
        for attr in index_attrs.values():
            if attr.is_hash_key or attr.is_range_key:
                assert attr_defs.get(attr.attr_name) == attr.attr_type, \
                    f"{name}.{index_name}.{attr.attr_name} is {attr.attr_type}, " \
                    f"table says {attr_defs.get(attr.attr_name)}"


def models_by_table() -> dict[str, list[type[Model]]]:
    out: dict[str, list[type[Model]]] = defaultdict(list)
    for model in MODELS.values():
        out[model_table(model)].append(model)
    return dict(out)


@pytest.mark.parametrize("logical_id", sorted(tables()))
def test_table_is_modelled_with_its_gsis_and_ttl(logical_id: str) -> None:
    props = tables()[logical_id]
    models = models_by_table().get(logical_id, [])
    assert models, f"{logical_id} has no pynamodb model (or no function env var names it)"
    declared = {i.Meta.index_name for m in models for i in vars(m).values() if isinstance(i, GlobalSecondaryIndex)}
    gsis = {g["IndexName"] for g in props.get("GlobalSecondaryIndexes") or []}
    assert gsis == declared, f"{logical_id}: template GSIs {sorted(gsis)}, models declare {sorted(declared)}"
    ttl_attrs = {a.attr_name for m in models for a in m.get_attributes().values() if isinstance(a, TTLAttribute)}
    ttl = props.get("TimeToLiveSpecification")
    table_ttl = {ttl["AttributeName"]} if ttl and ttl.get("Enabled") else set()
    assert ttl_attrs == table_ttl, f"{logical_id}: models' TTLAttribute {sorted(ttl_attrs)}, template TTL {table_ttl}"
    # Every attribute in AttributeDefinitions must be a key of the table or of a GSI (CloudFormation rule).
    key_attrs = {k["AttributeName"] for k in props["KeySchema"]}
    key_attrs |= {k["AttributeName"] for g in props.get("GlobalSecondaryIndexes") or [] for k in g["KeySchema"]}
    assert {a["AttributeName"] for a in props["AttributeDefinitions"]} == key_attrs


# ------------------------------------------------------------------------------------------ ownership


def test_every_table_has_a_center_tag() -> None:
    names = set(centers.center_names()) | {"contract"}
    for logical_id, props in tables().items():
        assert table_center(props) in names, f"{logical_id} lacks a Tags center=<name> of a known center"


def layer_envs() -> set[str]:
    return {str(model.Meta.table_env) for model in LAYER_MODELS().values()}


@pytest.mark.parametrize("fn", template.functions(), ids=lambda f: f.logical_id)
def test_function_env_names_only_own_center_tables(fn: template.FunctionDef) -> None:
    known = tables()
    bad = []
    for name, value in fn.env.items():
        target = env_table(fn, value)
        if target is None:
            continue
        owner = table_center(known[target])
        if owner == fn.center:
            continue
        if owner == "contract" and name in layer_envs():
            continue  # the shared layer reads limits and signatures, and writes usage, inside money transactions
        if owner == "auth" and name == "STEP_UP_TABLE":
            continue  # a step-up token is spent inside the operation it allowed (decision 0017)
        if owner == "marketing" and fn.logical_id == "AccountInternalFunction" and name in (
                "BUDGETS_TABLE", "COUPONS_TABLE", "POINTS_TABLE"):
            continue  # a capture redeems coupons and enters points inside its own transaction (decisions 0043-0044)
        bad.append(f"{name}: {target} belongs to center {owner!r}")
    assert not bad, f"{fn.logical_id} (center {fn.center}) reaches other centers' tables: {bad}"
