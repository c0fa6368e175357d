"""Segments: condition trees over a customer's profile and behaviour counts, evaluated with the reasons each rule
passed or failed (the dry run shows them; the membership keeps the verdict).

A tree is JSON: `{"all": [...]}`, `{"any": [...]}`, `{"not": {...}}`, or a leaf —
`{"field": <profile field>, "op": <op>, "value": ...}` or `{"behaviour": <event kind>, "days": N, "op": <op>,
"value": <count>}` (events of that kind in the last N Asia/Shanghai days, today included).

Profile fields come from the user center's events (the marketing center keeps its own copy, decision 0032):
kyc_level (none < L1 < L2), risk_level (C1 < ... < C5), risk_valid (an assessment that has not expired),
registered_days (whole days since registration), birthday_month, birthday_day, birthday_today, channels
(`has` wechat | alipay). Conditions that depend on the date (risk_valid, registered_days, birthday_today,
behaviour windows) are time-relative: the nightly sweep re-evaluates segments that have them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from bank_common.errors import BusinessRuleViolation

MAX_DEPTH, MAX_LEAVES, MAX_DAYS = 6, 20, 90
ORDERED = {"kyc_level": ("none", "L1", "L2"), "risk_level": ("C1", "C2", "C3", "C4", "C5")}
FIELDS = {"kyc_level": str, "risk_level": str, "risk_valid": bool, "registered_days": int, "birthday_month": int,
          "birthday_day": int, "birthday_today": bool, "channels": list}
TIME_RELATIVE = {"risk_valid", "registered_days", "birthday_today"}
OPS = {"eq", "ne", "lt", "lte", "gt", "gte", "in", "has"}
BEHAVIOURS = {"login", "transfer", "deposit", "bill_payment", "wealth_view", "wealth_purchase", "coupon_redeemed",
              "app_open", "kyc_passed", "first_deposit", "wealth_matured"}


class InvalidSegment(BusinessRuleViolation):
    code, message = "INVALID_SEGMENT", "The segment's condition tree is not valid."


@dataclass(frozen=True)
class Facts:
    """What a segment is evaluated on: the customer's profile and daily behaviour counts (kind → day → n)."""

    profile: dict[str, Any]
    counts: dict[str, dict[date, int]] = field(default_factory=dict)


def validate(node: Any, depth: int = 0) -> int:
    """Check a tree's shape; the number of leaves (422 INVALID_SEGMENT naming the problem)."""
    if depth > MAX_DEPTH:
        raise InvalidSegment(f"A segment nests at most {MAX_DEPTH} levels.")
    if not isinstance(node, dict) or len(node) == 0:
        raise InvalidSegment("Each node is an object: all, any, not, or a leaf.")
    if set(node) in ({"all"}, {"any"}):
        children = next(iter(node.values()))
        if not isinstance(children, list) or not 1 <= len(children) <= MAX_LEAVES:
            raise InvalidSegment(f"all/any take a list of 1 to {MAX_LEAVES} nodes.")
        leaves = sum(validate(child, depth + 1) for child in children)
    elif set(node) == {"not"}:
        leaves = validate(node["not"], depth + 1)
    elif set(node) == {"field", "op", "value"}:
        _check_field_leaf(node)
        leaves = 1
    elif set(node) == {"behaviour", "days", "op", "value"}:
        if node["behaviour"] not in BEHAVIOURS:
            raise InvalidSegment(f"Unknown behaviour {str(node['behaviour'])[:40]!r}.")
        if not _is_int(node["days"]) or not 1 <= node["days"] <= MAX_DAYS:
            raise InvalidSegment(f"days is 1 to {MAX_DAYS}.")
        if node["op"] not in {"eq", "ne", "lt", "lte", "gt", "gte"} or not _is_int(node["value"]):
            raise InvalidSegment("A behaviour count compares with eq, ne, lt, lte, gt or gte to an integer.")
        leaves = 1
    else:
        raise InvalidSegment("Each node is {all: [...]}, {any: [...]}, {not: ...}, {field, op, value} or "
                             "{behaviour, days, op, value}.")
    if leaves > MAX_LEAVES:
        raise InvalidSegment(f"A segment has at most {MAX_LEAVES} conditions.")
    return leaves


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_field_leaf(node: dict[str, Any]) -> None:
    name, op, value = node["field"], node["op"], node["value"]
    if name not in FIELDS:
        raise InvalidSegment(f"Unknown field {str(name)[:40]!r}.")
    kind = FIELDS[name]
    if op not in OPS:
        raise InvalidSegment(f"Unknown op {str(op)[:10]!r}.")
    if kind is list:
        if op != "has" or value not in ("wechat", "alipay"):
            raise InvalidSegment("channels takes op has with wechat or alipay.")
        return
    if op == "has":
        raise InvalidSegment("has is for channels.")
    if op == "in":
        if not isinstance(value, list) or not 1 <= len(value) <= 10 or not all(_fits(name, kind, v) for v in value):
            raise InvalidSegment(f"in takes a list of 1 to 10 values of {name}.")
        return
    if not _fits(name, kind, value):
        raise InvalidSegment(f"{name} compares with a {kind.__name__}.")
    if op in {"lt", "lte", "gt", "gte"} and kind is bool:
        raise InvalidSegment(f"{name} takes eq or ne.")


def _fits(name: str, kind: type, value: Any) -> bool:
    if name in ORDERED:
        return value in ORDERED[name]
    if kind is int:
        return _is_int(value)
    return isinstance(value, kind)


def time_relative(node: dict[str, Any]) -> bool:
    if "all" in node or "any" in node:
        return any(time_relative(child) for child in next(iter(node.values())))
    if "not" in node:
        return time_relative(node["not"])
    return "behaviour" in node or node.get("field") in TIME_RELATIVE


def evaluate(node: dict[str, Any], facts: Facts, today: date) -> tuple[bool, list[str]]:
    """Whether the customer is in the segment, and why each condition passed or failed ("✓ ..." / "✗ ...")."""
    if "all" in node or "any" in node:
        results = [evaluate(child, facts, today) for child in next(iter(node.values()))]
        verdict = all(r for r, _ in results) if "all" in node else any(r for r, _ in results)
        return verdict, [reason for _, reasons in results for reason in reasons]
    if "not" in node:
        inner, reasons = evaluate(node["not"], facts, today)
        return not inner, [f"not ({r})" for r in reasons]
    if "behaviour" in node:
        since = today - timedelta(days=int(node["days"]) - 1)
        seen = sum(n for day, n in facts.counts.get(node["behaviour"], {}).items() if since <= day <= today)
        ok = _compare(seen, node["op"], node["value"], None)
        return ok, [f"{'✓' if ok else '✗'} {node['behaviour']} in the last {node['days']} days {node['op']} "
                    f"{node['value']} (was {seen})"]
    actual = _field(node["field"], facts.profile, today)
    ok = actual is not None and _compare(actual, node["op"], node["value"], node["field"])
    return ok, [f"{'✓' if ok else '✗'} {node['field']} {node['op']} {node['value']} (was {actual})"]


def _field(name: str, profile: dict[str, Any], today: date) -> Any:
    if name == "risk_valid":
        expires = profile.get("risk_expires_on")
        return bool(profile.get("risk_level")) and expires is not None and date.fromisoformat(expires) > today
    if name == "registered_days":
        registered = profile.get("registered_on")
        return None if registered is None else (today - date.fromisoformat(registered)).days
    if name == "birthday_today":
        return (profile.get("birthday_month"), profile.get("birthday_day")) == (today.month, today.day)
    if name == "channels":
        return list(profile.get("channels") or [])
    return profile.get(name)


def _compare(actual: Any, op: str, value: Any, name: str | None) -> bool:
    if op == "has":
        return value in actual
    if op == "in":
        return actual in value
    order = ORDERED.get(name or "")
    if order is not None:
        if actual not in order:
            return False
        actual, value = order.index(actual), order.index(value)
    try:
        return {"eq": actual == value, "ne": actual != value, "lt": actual < value, "lte": actual <= value,
                "gt": actual > value, "gte": actual >= value}[op]
    except TypeError:
        return False
