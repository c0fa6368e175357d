"""The contact policy as plain functions: quiet hours 21:00-08:00 Asia/Shanghai (deferred to the next 08:00), the
order of the rules (holdout, the app channel, opt-out, a wealth product's risk level against a valid assessment,
private products never broadcast), the caps' Shanghai day and ISO week; and the JPush adapter against a recorded
response."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketing_center import push
from marketing_center.logic import contact, holdout

SHANGHAI = timedelta(hours=8)


def shanghai(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC) - SHANGHAI


@pytest.mark.parametrize(("hms", "quiet"), [((20, 59, 59), False), ((21, 0, 0), True), ((23, 59, 59), True),
                                            ((0, 0, 0), True), ((7, 59, 59), True), ((8, 0, 0), False),
                                            ((12, 0, 0), False)])
def test_quiet_hours_edges(hms: tuple[int, int, int], quiet: bool) -> None:
    assert contact.quiet(shanghai(2026, 12, 31, *hms)) is quiet


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1)))
def test_a_quiet_instant_is_deferred_to_the_next_shanghai_morning(naive: datetime) -> None:
    at = naive.replace(tzinfo=UTC)
    if not contact.quiet(at):
        return
    until = contact.quiet_ends(at)
    local = until.astimezone(UTC) + SHANGHAI
    assert (local.hour, local.minute, local.second) == (8, 0, 0)
    assert timedelta(0) < until - at <= timedelta(hours=11)
    assert not contact.quiet(until)


def test_quiet_ends_across_a_year_end() -> None:
    assert contact.quiet_ends(shanghai(2026, 12, 31, 22, 30)) == shanghai(2027, 1, 1, 8)
    assert contact.quiet_ends(shanghai(2027, 1, 1, 3)) == shanghai(2027, 1, 1, 8)


def test_caps_count_the_shanghai_day_and_iso_week() -> None:
    # Sunday 2027-01-03 23:30 in Shanghai is still ISO week 2026-53; Monday 00:10 is week 2027-01.
    assert contact.cap_keys(shanghai(2027, 1, 3, 23, 30)) == [("CONTACT#D20270103", 1), ("CONTACT#W2026-53", 3)]
    assert contact.cap_keys(shanghai(2027, 1, 4, 0, 10)) == [("CONTACT#D20270104", 1), ("CONTACT#W2027-01", 3)]


def _customer_outside_holdout(campaign_id: str, percent: int) -> str:
    return next(f"c-{i}" for i in range(1000) if not holdout.in_holdout(campaign_id, f"c-{i}", percent))


def test_the_rules_in_order() -> None:
    noon = shanghai(2026, 12, 1, 12)
    cid = "cmp-" + "0" * 20
    held = next(f"c-{i}" for i in range(1000) if holdout.in_holdout(cid, f"c-{i}", 50))
    free = _customer_outside_holdout(cid, 50)
    content: dict[str, Any] = {"holdout_percent": 50}
    assert contact.decide(cid, content, held, {"kyc_level": "L2"}, noon, broadcast=True).reason == "held_out"
    assert contact.decide(cid, content, free, {}, noon, broadcast=True).reason == "unknown_customer"
    web_only = {**content, "channels": ["web", "wechat_mp"]}
    assert contact.decide(cid, web_only, free, {"kyc_level": "L2"}, noon, broadcast=True).reason == "no_app_channel"
    assert contact.decide(cid, content, free, {"opted_out": True}, noon, broadcast=True).reason == "opted_out"
    assert contact.decide(cid, content, free, {"kyc_level": "L2"}, noon, broadcast=True).outcome == "push"
    night = contact.decide(cid, content, free, {"kyc_level": "L2"}, shanghai(2026, 12, 1, 23), broadcast=True)
    assert (night.outcome, night.defer_until) == ("defer", shanghai(2026, 12, 2, 8))
    wealth = {"holdout_percent": 0, "product": {"risk_level": "R3", "private": True}}
    valid = {"risk_level": "C3", "risk_expires_on": "2027-06-30"}
    assert contact.decide(cid, wealth, free, valid, noon, broadcast=False).outcome == "push"
    assert contact.decide(cid, wealth, free, valid, noon, broadcast=True).reason == "private_product"
    for profile in ({"risk_level": "C2", "risk_expires_on": "2027-06-30"},  # too low
                    {"risk_level": "C5", "risk_expires_on": "2026-11-30"},  # expired
                    {"risk_level": "C5"}, {"kyc_level": "L2"}):  # no expiry, no assessment
        assert contact.decide(cid, wealth, free, profile, noon, broadcast=False).reason == "risk_not_allowed"


def test_the_assessment_is_valid_through_its_last_day() -> None:
    profile = {"risk_level": "C4", "risk_expires_on": "2026-12-01"}
    assert contact.risk_allows(profile, "R4", datetime(2026, 12, 1).date())
    assert not contact.risk_allows(profile, "R4", datetime(2026, 12, 2).date())
    assert not contact.risk_allows(profile, "R5", datetime(2026, 12, 1).date())


class Recorded:
    """urllib3's PoolManager stand-in answering with a response recorded from JPush's v3 push API."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body, self.requests = status, body, []  # type: list[tuple[str, str, bytes, dict]]

    def request(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> Any:
        self.requests.append((method, url, body, headers))
        return type("Response", (), {"status": self.status, "data": json.dumps(self.body).encode()})()


def test_jpush_sends_to_the_customers_alias_with_basic_auth() -> None:
    http = Recorded(200, {"sendno": "0", "msg_id": "54043195528011776"})
    sender = push.JPushSender({"app_key": "a1b2c3", "master_secret": "s3cr3t", "production": True}, http)
    assert sender.send("c-0001", "年终礼券", "Your coupon is waiting", "cmp-x") == "54043195528011776"
    method, url, body, headers = http.requests[0]
    assert (method, url) == ("POST", "https://api.jpush.cn/v3/push")
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"a1b2c3:s3cr3t").decode()
    sent = json.loads(body)
    assert sent["audience"] == {"alias": ["c-0001"]} and sent["options"]["apns_production"] is True
    assert sent["notification"]["android"] == {"alert": "Your coupon is waiting", "title": "年终礼券"}


def test_jpush_refusals_raise() -> None:
    http = Recorded(400, {"error": {"code": 1011, "message": "cannot find user by this audience or has been inactive "
                                                             "for more than 255 days"}})
    sender = push.JPushSender({"app_key": "a", "master_secret": "b"}, http)
    with pytest.raises(push.PushRejected, match="1011"):
        sender.send("c-0001", "t", "x", "cmp-x")


def test_the_fake_keeps_what_it_sent(tmp_path: Any) -> None:
    sink = tmp_path / "push" / "outbox.jsonl"
    fake = push.FakePush(str(sink))
    assert fake.send("c-1", "t", "hello", "cmp-1") == "fake-push-1"
    assert [json.loads(line)["customer_id"] for line in sink.read_text().splitlines()] == ["c-1"]
    assert fake.sent[0]["text"] == "hello"
