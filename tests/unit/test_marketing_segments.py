"""Segment condition trees without AWS: shape checks (422 INVALID_SEGMENT), evaluation with reasons, behaviour
windows in days, ordered levels, time-relative detection."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from marketing_center.logic import segments

TODAY = date(2026, 12, 1)
PROFILE = {"kyc_level": "L2", "risk_level": "C3", "risk_expires_on": "2027-06-30", "registered_on": "2026-11-01",
           "birthday_month": 12, "birthday_day": 1, "channels": ["wechat"]}


def facts(**counts: dict[date, int]) -> segments.Facts:
    return segments.Facts(PROFILE, dict(counts))


@pytest.mark.parametrize(("tree", "verdict"), [
    ({"field": "kyc_level", "op": "eq", "value": "L2"}, True),
    ({"field": "kyc_level", "op": "gte", "value": "L1"}, True),  # levels are ordered
    ({"field": "risk_level", "op": "lte", "value": "C2"}, False),
    ({"field": "risk_level", "op": "in", "value": ["C3", "C4"]}, True),
    ({"field": "risk_valid", "op": "eq", "value": True}, True),
    ({"field": "registered_days", "op": "gte", "value": 30}, True),
    ({"field": "registered_days", "op": "gt", "value": 30}, False),
    ({"field": "birthday_today", "op": "eq", "value": True}, True),
    ({"field": "birthday_month", "op": "eq", "value": 11}, False),
    ({"field": "channels", "op": "has", "value": "wechat"}, True),
    ({"field": "channels", "op": "has", "value": "alipay"}, False),
    ({"not": {"field": "channels", "op": "has", "value": "alipay"}}, True),
    ({"all": [{"field": "kyc_level", "op": "eq", "value": "L2"}, {"field": "risk_level", "op": "eq", "value": "C5"}]},
     False),
    ({"any": [{"field": "kyc_level", "op": "eq", "value": "L1"}, {"field": "risk_level", "op": "eq", "value": "C3"}]},
     True),
])
def test_profile_conditions(tree: dict[str, Any], verdict: bool) -> None:
    segments.validate(tree)
    assert segments.evaluate(tree, facts(), TODAY)[0] is verdict


def test_behaviour_counts_in_the_last_n_days_with_reasons() -> None:
    counts = {TODAY: 1, TODAY - timedelta(days=6): 2, TODAY - timedelta(days=7): 5}
    tree = {"all": [{"behaviour": "login", "days": 7, "op": "gte", "value": 3},
                    {"behaviour": "transfer", "days": 30, "op": "eq", "value": 0},
                    {"field": "kyc_level", "op": "eq", "value": "L1"}]}
    segments.validate(tree)
    verdict, reasons = segments.evaluate(tree, facts(login=counts), TODAY)
    assert verdict is False
    assert reasons == ["✓ login in the last 7 days gte 3 (was 3)", "✓ transfer in the last 30 days eq 0 (was 0)",
                       "✗ kyc_level eq L1 (was L2)"]
    assert segments.evaluate({"behaviour": "login", "days": 8, "op": "eq", "value": 8}, facts(login=counts),
                             TODAY)[0]


def test_an_expired_or_missing_assessment_is_not_valid() -> None:
    tree = {"field": "risk_valid", "op": "eq", "value": True}
    expired = segments.Facts({**PROFILE, "risk_expires_on": "2026-12-01"})
    assert not segments.evaluate(tree, expired, TODAY)[0]
    assert not segments.evaluate(tree, segments.Facts({}), TODAY)[0]
    assert not segments.evaluate({"field": "registered_days", "op": "gte", "value": 0}, segments.Facts({}), TODAY)[0]


@pytest.mark.parametrize("tree", [
    {}, [], {"all": []}, {"all": "x"}, {"nope": 1}, {"not": {}},
    {"field": "salary", "op": "eq", "value": 1},
    {"field": "kyc_level", "op": "eq", "value": "L9"},
    {"field": "kyc_level", "op": "like", "value": "L1"},
    {"field": "risk_valid", "op": "gt", "value": True},
    {"field": "channels", "op": "eq", "value": "wechat"},
    {"field": "registered_days", "op": "gte", "value": "30"},
    {"field": "registered_days", "op": "gte", "value": True},
    {"field": "risk_level", "op": "in", "value": []},
    {"behaviour": "login", "days": 0, "op": "gte", "value": 1},
    {"behaviour": "login", "days": 91, "op": "gte", "value": 1},
    {"behaviour": "teleport", "days": 7, "op": "gte", "value": 1},
    {"behaviour": "login", "days": 7, "op": "has", "value": 1},
    {"all": [{"field": "kyc_level", "op": "eq", "value": "L1"}] * 21},
    {"not": {"not": {"not": {"not": {"not": {"not": {"not": {"field": "kyc_level", "op": "eq", "value": "L1"}}}}}}}},
])
def test_malformed_trees_are_refused(tree: Any) -> None:
    with pytest.raises(segments.InvalidSegment) as refused:
        segments.validate(tree)
    assert refused.value.status == 422 and refused.value.code == "INVALID_SEGMENT"


def test_time_relative_conditions_are_found_anywhere_in_the_tree() -> None:
    assert not segments.time_relative({"field": "kyc_level", "op": "eq", "value": "L1"})
    assert segments.time_relative({"any": [{"field": "kyc_level", "op": "eq", "value": "L1"},
                                           {"not": {"field": "birthday_today", "op": "eq", "value": True}}]})
    assert segments.time_relative({"behaviour": "login", "days": 7, "op": "gte", "value": 1})
