"""The marketing center over HTTP against the local run (DynamoDB Local): marketing staff run a campaign
through its states with an audit trail, and many reservers racing for one budget through the Lambda Invoke API
(as other centers call it) never push it over its limit or below zero."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest

from tests.live_platform import LocalPlatform
from tests.support.api import Api
from tests.support.figures import report
from tests.support.marketing import PATH, campaign_body, invoke_over_http, reserve_event

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lam(local_platform: LocalPlatform) -> Any:
    return boto3.client("lambda", endpoint_url=local_platform.info["lambda"], region_name=local_platform.info["region"],
                        aws_access_key_id="local", aws_secret_access_key="local")


def budget_used(local_platform: LocalPlatform, campaign_id: str) -> int:
    ddb = boto3.client("dynamodb", endpoint_url=local_platform.info["dynamodb"],
                       region_name=local_platform.info["region"], aws_access_key_id="local",
                       aws_secret_access_key="local")
    item = ddb.get_item(TableName=f"{local_platform.info['prefix']}-BudgetsTable", ConsistentRead=True,
                        Key={"pk": {"S": f"BUDGET#{campaign_id}#redeem#campaign#-#campaign#ALL"}}).get("Item")
    return int(item["used"]["N"]) if item else 0


def test_a_campaign_through_its_states_over_http(api: Api, marketer: str, teller: str) -> None:
    r = api.call("POST", PATH, campaign_body(), token=marketer, channel="web")
    assert r.status == 201, r.body
    cid = r.body["campaign_id"]
    assert api.call("POST", PATH, campaign_body(), token=teller, channel="web").code == "FORBIDDEN"
    for action, state in (("schedule", "scheduled"), ("end", "ended")):
        r = api.call("POST", f"{PATH}/{cid}/transitions", {"action": action}, token=marketer, channel="web")
        assert r.status == 200 and r.body["state"] == state, r.body
    r = api.call("POST", f"{PATH}/{cid}/transitions", {"action": "resume"}, token=marketer, channel="web")
    assert r.status == 409 and r.code == "ILLEGAL_TRANSITION"
    audit = api.call("GET", f"{PATH}/{cid}/audit", token=marketer, channel="web").body["items"]
    assert [e["action"] for e in audit] == ["end", "schedule", "create"]


def test_parallel_reservers_never_exceed_a_budget(api: Api, marketer: str, lam: Any, campaigns: Any,
                                                  local_platform: LocalPlatform) -> None:
    """48 reservers of 3.00 against 100.00, 16 at a time: exactly 33 fit; each refusal is the budget or a
    busy counter (retried until decided); the counter ends at what the winners hold."""
    cid = campaigns(budgets=[{"action": "redeem", "limit": 10_000}])
    events = [reserve_event(cid, 300, customer=f"c-{i:03d}", reservation_id=f"race-{uuid.uuid4().hex}")
              for i in range(48)]

    def one(event: dict[str, Any]) -> tuple[str, int]:
        for attempt in range(20):
            reply = invoke_over_http(lam, event)
            if reply["ok"]:
                return "won", attempt
            if reply["error"]["code"] != "CONCURRENT_UPDATE":
                assert reply["error"]["code"] == "BUDGET_EXHAUSTED", reply
                return "exhausted", attempt
        raise AssertionError("a reservation stayed undecided")

    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(one, events))
    won = sum(1 for o, _ in outcomes if o == "won")
    retried = sum(a for _, a in outcomes)
    report(f"budget race over HTTP: 48 reservers of 3.00 on 100.00, 16 in parallel: {won} reserved, "
           f"{48 - won} refused BUDGET_EXHAUSTED, {retried} CONCURRENT_UPDATE retries by callers")
    assert won == 33 and budget_used(local_platform, cid) == 9_900

    # Releasing one reservation 8 times at once gives its 3.00 back once.
    winner = next(e for e, (o, _) in zip(events, outcomes, strict=True) if o == "won")
    release = {"operation": "release_budget", "payload": {"reservation_id": winner["payload"]["reservation_id"]}}
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: invoke_over_http(lam, release), range(8)))
    assert all(r["ok"] or r["error"]["code"] == "CONCURRENT_UPDATE" for r in replies), replies
    assert budget_used(local_platform, cid) == 9_600
