"""Campaigns through the API on moto: marketing staff create, edit (versions), schedule, pause, resume and end
them; illegal moves are 409 with a stable code; every staff action is in the audit trail; other roles and
customers are refused; malformed input is a 400 that writes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.functional.conftest import provision_staff, table_items
from tests.support.api import Api
from tests.support.marketing import MARKETER_PASSWORD, MARKETER_USER, PATH, at, campaign_body, running_campaign


@pytest.fixture
def marketer(api: Api, runtime: Any) -> str:
    provision_staff(runtime, MARKETER_USER, MARKETER_PASSWORD, ["marketing"])
    return api.staff_login(MARKETER_USER, MARKETER_PASSWORD)


def call(api: Api, token: str, method: str, path: str, body: Any = None) -> Any:
    return api.call(method, path, body, token=token, channel="web")


def test_a_campaign_from_draft_to_ended_with_versions_and_audit(api: Api, marketer: str) -> None:
    body = campaign_body()
    r = call(api, marketer, "POST", PATH, body)
    assert r.status == 201, r.body
    cid = r.body["campaign_id"]
    assert (r.body["state"], r.body["version"], r.body["live_version"], r.body["live"]) == ("draft", 1, None, None)
    assert r.body["latest"]["offer"] == {"amount": "10.00", "points": None, "min_spend": "100.00"}
    assert r.body["latest"]["starts_at"].endswith("+08:00")  # windows are shown in Asia/Shanghai

    edited = call(api, marketer, "PUT", f"{PATH}/{cid}", {**body, "name": "Renamed"})
    assert edited.status == 200 and edited.body["version"] == 2 and edited.body["latest"]["name"] == "Renamed"

    scheduled = call(api, marketer, "POST", f"{PATH}/{cid}/transitions", {"action": "schedule"})
    assert scheduled.status == 200, scheduled.body
    assert (scheduled.body["state"], scheduled.body["live_version"]) == ("scheduled", 2)

    # An edit after scheduling is a new version; what is pinned stays what runs until it is scheduled again.
    again = call(api, marketer, "PUT", f"{PATH}/{cid}", {**body, "name": "Third"})
    assert (again.body["version"], again.body["live_version"], again.body["live"]["name"]) == (3, 2, "Renamed")
    repinned = call(api, marketer, "POST", f"{PATH}/{cid}/transitions", {"action": "schedule"})
    assert repinned.body["live_version"] == 3

    # Not started yet: it cannot be paused; it can be ended.
    refused = call(api, marketer, "POST", f"{PATH}/{cid}/transitions", {"action": "pause"})
    assert refused.status == 409 and refused.code == "ILLEGAL_TRANSITION"
    assert refused.body["error"]["details"] == {"state": "scheduled", "action": "pause", "allowed": ["end", "schedule"]}
    ended = call(api, marketer, "POST", f"{PATH}/{cid}/transitions", {"action": "end", "reason": "budget moved"})
    assert ended.body["state"] == "ended"
    late = call(api, marketer, "PUT", f"{PATH}/{cid}", body)
    assert late.status == 409 and late.code == "CAMPAIGN_ENDED"

    audit = call(api, marketer, "GET", f"{PATH}/{cid}/audit")
    assert audit.status == 200
    assert [(e["action"], e["from_state"], e["to_state"], e["version"]) for e in audit.body["items"]] == [
        ("end", "scheduled", "ended", 3), ("schedule", "scheduled", "scheduled", 3),
        ("edit", "scheduled", "scheduled", 3), ("schedule", "draft", "scheduled", 2),
        ("edit", "draft", "draft", 2), ("create", None, "draft", 1)]
    assert {e["actor"] for e in audit.body["items"]} == {"s-" + MARKETER_USER}
    assert audit.body["items"][0]["reason"] == "budget moved"
    # Paged, newest first.
    first = call(api, marketer, "GET", f"{PATH}/{cid}/audit?limit=4")
    rest = call(api, marketer, "GET", f"{PATH}/{cid}/audit?limit=4&cursor={first.body['next_cursor']}")
    assert [e["action"] for e in first.body["items"] + rest.body["items"]] == [
        e["action"] for e in audit.body["items"]]


def test_time_runs_a_scheduled_campaign_and_staff_pause_resume_and_end_it(api: Api, marketer: str) -> None:
    cid = running_campaign(api, marketer)
    assert call(api, marketer, "GET", f"{PATH}/{cid}").body["stored_state"] == "scheduled"
    for action, state in (("pause", "paused"), ("resume", "running"), ("pause", "paused"), ("end", "ended")):
        r = call(api, marketer, "POST", f"{PATH}/{cid}/transitions", {"action": action})
        assert r.status == 200 and r.body["state"] == state, r.body
    for action in ("schedule", "pause", "resume", "end"):
        r = call(api, marketer, "POST", f"{PATH}/{cid}/transitions", {"action": action})
        assert r.status == 409 and r.code == "ILLEGAL_TRANSITION", r.body


def test_a_draft_whose_window_closed_cannot_be_scheduled(api: Api, marketer: str) -> None:
    body = campaign_body(starts_at=at(timedelta(days=-3)), ends_at=at(timedelta(days=-1)))
    cid = call(api, marketer, "POST", PATH, body).body["campaign_id"]
    r = call(api, marketer, "POST", f"{PATH}/{cid}/transitions", {"action": "schedule"})
    assert r.status == 409 and r.code == "ILLEGAL_TRANSITION"
    for action in ("pause", "resume", "end"):
        assert call(api, marketer, "POST", f"{PATH}/{cid}/transitions", {"action": action}).status == 409


def test_campaigns_list_newest_first_in_pages(api: Api, marketer: str) -> None:
    made = [call(api, marketer, "POST", PATH, campaign_body()).body["campaign_id"] for _ in range(3)]
    first = call(api, marketer, "GET", f"{PATH}?limit=2")
    assert first.status == 200 and [c["campaign_id"] for c in first.body["items"]] == made[::-1][:2]
    rest = call(api, marketer, "GET", f"{PATH}?limit=2&cursor={first.body['next_cursor']}")
    assert rest.body["items"][0]["campaign_id"] == made[0]


def test_only_marketing_staff_may_touch_campaigns(api: Api, marketer: str, teller: str, new_mobile: Any) -> None:
    cid = call(api, marketer, "POST", PATH, campaign_body()).body["campaign_id"]
    mobile = new_mobile()
    api.register(mobile)
    customer = api.login(mobile)
    for token in (teller, customer):
        for method, path, body in (("POST", PATH, campaign_body()), ("GET", PATH, None),
                                   ("GET", f"{PATH}/{cid}", None), ("PUT", f"{PATH}/{cid}", campaign_body()),
                                   ("POST", f"{PATH}/{cid}/transitions", {"action": "end"}),
                                   ("GET", f"{PATH}/{cid}/audit", None)):
            r = api.call(method, path, body, token=token, channel="web" if token == teller else "app")
            assert r.status == 403 and r.code == "FORBIDDEN", (method, path, r.body)
    assert api.call("GET", PATH, channel="web").status == 401
    assert call(api, marketer, "GET", f"{PATH}/{cid}").body["state"] == "draft"  # nothing changed


@pytest.mark.parametrize(("change", "status"), [
    ({"ends_at": at(timedelta(hours=-1))}, 422),  # ends before it starts
    ({"starts_at": "1999-12-31T23:59:59+08:00"}, 422),
    ({"ends_at": "9999-12-31T23:59:59Z"}, 422),  # not representable in Shanghai
    ({"channels": ["app", "app"]}, 422),
    ({"channels": ["sms"]}, 400),
    ({"kind": "points"}, 422),  # a points campaign without offer.points
    ({"offer": {"points": 10}}, 422),  # a coupon without an amount
    ({"offer": {"amount": "-1.00"}}, 400),
    ({"starts_at": "2026-12-01T00:00:00"}, 400),  # no offset: ambiguous
    ({"budgets": [{"action": "redeem", "limit": 0}]}, 400),
    ({"budgets": [{"action": "redeem", "limit": 5}, {"action": "redeem", "limit": 6}]}, 422),
    ({"holdout_percent": 51}, 400),
    ({"name": ""}, 400),
    ({"surprise": 1}, 400),
])
def test_malformed_campaigns_are_refused_and_write_nothing(api: Api, marketer: str, aws: Any,
                                                           change: dict[str, Any], status: int) -> None:
    before = len(table_items(aws, "CAMPAIGNS_TABLE"))
    r = call(api, marketer, "POST", PATH, {**campaign_body(), **change})
    assert r.status == status and r.code in ("VALIDATION_FAILED", "INVALID_AMOUNT", "INVALID_CAMPAIGN"), r.body
    assert len(table_items(aws, "CAMPAIGNS_TABLE")) == before
    cid = call(api, marketer, "POST", PATH, campaign_body()).body["campaign_id"]
    edited = call(api, marketer, "PUT", f"{PATH}/{cid}", {**campaign_body(), **change})
    assert edited.status == status, edited.body
    assert call(api, marketer, "GET", f"{PATH}/{cid}").body["version"] == 1


def test_unknown_and_malformed_campaign_ids_are_404(api: Api, marketer: str) -> None:
    for cid in ("cmp-00000000000000000000", "nope", "cmp-" + "a" * 400):
        for method, suffix, body in (("GET", "", None), ("PUT", "", campaign_body()),
                                     ("POST", "/transitions", {"action": "end"}), ("GET", "/audit", None)):
            r = call(api, marketer, method, f"{PATH}/{cid}{suffix}", body)
            assert r.status == 404, (cid, method, suffix, r.body)
    bad = call(api, marketer, "POST", f"{PATH}/cmp-00000000000000000000/transitions", {"action": "launch"})
    assert bad.status == 400


def test_an_edit_racing_a_stale_read_is_refused(api: Api, marketer: str, aws: Any) -> None:
    """Two staff actions read the same revision: the second write is refused (409), not lost."""
    from marketing_center import store

    cid = call(api, marketer, "POST", PATH, campaign_body()).body["campaign_id"]
    stale = store.get(cid)
    assert call(api, marketer, "PUT", f"{PATH}/{cid}", campaign_body(name="first")).status == 200
    assert stale is not None
    with pytest.raises(store.ConcurrentChange):
        store.save_change(stale, {"name": {"S": "lost"}}, store.audit_entry(cid, "s-x", "edit", 1))
    got = call(api, marketer, "GET", f"{PATH}/{cid}").body
    assert (got["latest"]["name"], got["revision"]) == ("first", 2)
