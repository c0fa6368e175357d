"""Done when (issue 10, marketing events): over HTTP against the local run (DynamoDB Local, moto), a customer who
passes KYC is reached by a KycPassed campaign — the user center's profile snapshot reaches the marketing center's
copy through the BehaviourQueue poller, KycPassed goes onto the bank's bus, and the local run's rule bridge brings
it to the trigger, which pushes (or, in the quiet hours 21:00-08:00 Shanghai, defers to 08:00, fired here by the
local scheduler with a test clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.schedules import RuntimeSchedules
from tests.integration.test_marketing_schedules_http import SHANGHAI, client, invoker, next_shanghai, wait_for
from tests.live_platform import LocalPlatform
from tests.support import customer as user
from tests.support.api import Api
from tests.support.identity import customer
from tests.support.marketing import PATH

pytestmark = pytest.mark.integration
OPTED_IN = {"channels": {"sms": True, "app_push": True, "wechat": False, "email": False},
            "topics": {"transactions": True, "security": True, "marketing": True}}


def known_as(api: Api, marketer: str, campaign_id: str, customer_id: str) -> dict[str, Any]:
    r = api.call("POST", f"{PATH}/{campaign_id}/dry-run", {"customer_id": customer_id}, token=marketer,
                 channel="web")
    assert r.status == 200, r.body
    return dict(r.body)


def pushes_to(local_platform: LocalPlatform, customer_id: str) -> list[str]:
    """The campaigns the fake push adapter's sink shows reaching this customer."""
    sink = Path(str(local_platform.info["push_sink"]))
    rows = sink.read_text(encoding="utf-8").splitlines() if sink.is_file() else []
    return [r["campaign_id"] for r in map(json.loads, filter(None, rows)) if r["customer_id"] == customer_id]


def quiet_now() -> bool:
    return not 8 <= (datetime.now(UTC) + SHANGHAI).hour < 21


def test_a_customer_who_passes_kyc_is_reached_by_a_kyc_passed_campaign(
        api: Api, marketer: str, local_platform: LocalPlatform, new_mobile: Any,
        campaigns: Any) -> None:
    cid = campaigns(holdout_percent=0, channels=["app"], trigger={"event": "kyc_passed"},
                    segment={"field": "kyc_level", "op": "eq", "value": "L2"})
    token = customer(api, new_mobile())["access_token"]
    customer_id = str(api.call("GET", "/v1/user/profile", token=token).body["customer_id"])
    assert api.call("PUT", "/v1/user/preferences/notifications", OPTED_IN, token=token).status == 200
    wait_for(lambda: known_as(api, marketer, cid, customer_id)["known_customer"], "the registration's profile")
    assert known_as(api, marketer, cid, customer_id)["in_segment"] is False  # L1 still
    r, _ = user.kyc_attempt(api, token, user.card(), user.selfie())
    assert r.status == 200 and r.body["kyc_level"] == "L2", r.body
    quiet = quiet_now()
    if not quiet:
        wait_for(lambda: pushes_to(local_platform, customer_id), "the push after KycPassed")
    else:  # deferred to 08:00 Shanghai as a one-time schedule: the local scheduler fires it on a test clock
        groups = [str(g) for g in local_platform.info["schedule_groups"]]
        scheduler = client(local_platform, "scheduler")

        def deferred() -> bool:
            return any(s["Name"].startswith("mkt-step-")
                       for s in scheduler.list_schedules(GroupName=groups[0])["Schedules"])

        wait_for(deferred, "the step deferred to 08:00")
        at = {"now": next_shanghai(8) + timedelta(minutes=2)}
        RuntimeSchedules(scheduler, invoker(local_platform), groups, now=lambda: at["now"]).tick()
        wait_for(lambda: pushes_to(local_platform, customer_id), "the deferred push")
    assert known_as(api, marketer, cid, customer_id)["in_segment"] is True
    # Other tests' running KycPassed campaigns may reach them too: one push a day across campaigns (the cap).
    assert len(pushes_to(local_platform, customer_id)) == 1
    figures = api.call("GET", f"{PATH}/{cid}/figures", token=marketer, channel="web").body
    assert set(figures["outcomes"]) & {"pushed", "capped"} and set(figures["outcomes"]) <= {
        "pushed", "capped", "deferred"}, figures  # reached, or the cap kept another campaign's push the only one
    if pushes_to(local_platform, customer_id) == [cid]:
        assert figures["reached"] == 1, figures
