"""A campaign's live figures and its preview on moto: what its firings did (reached, every outcome, the snapshot's
size), its campaign-wide budgets used (redeemed money), uplift of the reached against the holdout; the preview's
segment size, holdout, reachable customers and budget burn; role checks, unknown and malformed ids."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from marketing_center.logic import holdout
from tests.functional.conftest import pump
from tests.functional.test_marketing_audience import event, send
from tests.functional.test_marketing_triggers import Clock, profiles, scheduler, shanghai_next
from tests.support.api import Api
from tests.support.marketing import PATH, campaign_body, reserve_event, running_campaign

L2 = {"field": "kyc_level", "op": "eq", "value": "L2"}


def figures(api: Api, token: str, campaign_id: str) -> Any:
    return api.call("GET", f"{PATH}/{campaign_id}/figures", token=token, channel="web")


def test_live_figures_after_a_firing(api: Api, marketer: str, runtime: Any, aws: Any, pushes: Any) -> None:
    cid = running_campaign(api, marketer, holdout_percent=50, segment=L2, trigger={"cron": "cron(0 10 * * ? *)"},
                           budgets=[{"action": "redeem", "limit": 100_000}])
    before = figures(api, marketer, cid)
    assert before.status == 200, before.body
    assert (before.body["firings"], before.body["reached"], before.body["audience"], before.body["uplift"]) == \
        (0, 0, None, None)
    assert before.body["redeemed"] == "0.00" and before.body["budgets"][0]["used"] == 0
    customers = [f"c-fig-{i}" for i in range(12)]
    profiles(aws, runtime, **{c: {"kyc_level": "L2"} for c in customers})
    due = shanghai_next(10)
    clock = Clock(due - timedelta(minutes=1))
    local = scheduler(aws, runtime, clock)
    local.tick()
    clock.at = due + timedelta(seconds=5)
    fired = [f["answer"] for f in local.tick() if f["schedule"].endswith(cid)]
    held = [c for c in customers if holdout.in_holdout(cid, c, 50)]
    assert fired[0]["pushed"] == len(customers) - len(held) and fired[0].get("held_out", 0) == len(held)
    # Two reached customers and one held-out customer transfer money afterwards; a budget use is confirmed.
    reached = [c for c in customers if c not in held]
    send(aws, event(reached[0], "transfer"), event(reached[1], "deposit"), event(held[0], "transfer"))
    pump(runtime, aws.queue_urls["BehaviourQueue"], "IngestBehaviourFunction")
    reserved = runtime.invoke("MarketingInternalFunction", reserve_event(cid, 1_000, customer=reached[0]))
    assert reserved["ok"], reserved
    confirm = {"operation": "confirm_budget", "payload": {"reservation_id": reserved["result"]["reservation_id"]}}
    assert runtime.invoke("MarketingInternalFunction", confirm)["ok"]
    body = figures(api, marketer, cid).body
    assert (body["firings"], body["audience"], body["reached"]) == (1, 12, len(reached))
    assert body["outcomes"] == {"pushed": len(reached), "held_out": len(held)}
    assert body["redeemed"] == "10.00" and body["budgets"] == [{"action": "redeem", "limit": 100_000,
                                                                "period": "campaign", "entity": "campaign",
                                                                "period_key": "ALL", "used": 1_000}]
    uplift = body["uplift"]
    assert uplift["treatment"] == {"customers": len(reached), "converted": 2,
                                   "rate": f"{2 / len(reached):.4f}"}
    assert uplift["holdout"] == {"customers": len(held), "converted": 1, "rate": f"{1 / len(held):.4f}"}
    assert uplift["uplift"] == f"{2 / len(reached) - 1 / len(held):.4f}" and uplift["sampled"] is False


def test_the_preview_sizes_the_segment_and_the_budget_burn(api: Api, marketer: str, runtime: Any,
                                                           aws: Any) -> None:
    body = campaign_body(holdout_percent=0, segment=L2, offer={"amount": "10.00"},
                         budgets=[{"action": "redeem", "limit": 5_000},
                                  {"action": "redeem", "limit": 3_000, "period": "day", "entity": "customer"}])
    cid = api.call("POST", PATH, body, token=marketer, channel="web").body["campaign_id"]
    profiles(aws, runtime, **{"c-pv-1": {"kyc_level": "L2"}, "c-pv-2": {"kyc_level": "L2", "opted_out": True},
                              "c-pv-3": {"kyc_level": "L1"}})
    r = api.call("GET", f"{PATH}/{cid}/preview", token=marketer, channel="web")
    assert r.status == 200, r.body
    assert (r.body["version"], r.body["in_segment"], r.body["held_out"], r.body["reachable"]) == (1, 2, 0, 1)
    assert r.body["known_customers"] >= 3 and r.body["sampled"] is False
    campaign, per_customer = r.body["budgets"]
    assert (campaign["per_use"], campaign["uses_covered"], campaign["burn_if_each_uses_once"],
            campaign["share_of_limit"]) == (1_000, 5, 1_000, "0.2000")
    assert (per_customer["uses_covered"], per_customer["burn_if_each_uses_once"]) == (3, 1_000)


def test_figures_and_preview_are_for_marketing_staff_only(api: Api, marketer: str, teller: str) -> None:
    cid = running_campaign(api, marketer)
    customer, _ = api.customer_with_account("13900000077")
    for suffix in ("figures", "preview"):
        assert api.call("GET", f"{PATH}/{cid}/{suffix}", token=teller, channel="web").code == "FORBIDDEN"
        assert api.call("GET", f"{PATH}/{cid}/{suffix}", token=customer).status in (401, 403)
        missing = api.call("GET", f"{PATH}/cmp-{'0' * 20}/{suffix}", token=marketer, channel="web")
        assert (missing.status, missing.code) == (404, "CAMPAIGN_NOT_FOUND")
        bad = api.call("GET", f"{PATH}/not-a-campaign/{suffix}", token=marketer, channel="web")
        assert bad.status == 404, bad.body  # an id off its pattern names no resource (as for the other routes)
