"""Budgets on moto: reserve (15 minutes) → confirm → or release, through the marketing center's internal
function as other centers invoke it; the sweeper releases what nobody confirmed; a budget is never exceeded
and never negative, also when every reserver read the campaign before any of them wrote (the race a
read-then-check would lose)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from bank_common import ddb, marketing_effects
from tests.functional.conftest import provision_staff
from tests.support.api import Api
from tests.support.marketing import (
    MARKETER_PASSWORD,
    MARKETER_USER,
    PATH,
    campaign_body,
    reserve_event,
    running_campaign,
)

CAMPAIGN_BUDGET = {"action": "redeem", "limit": 10_000, "period": "campaign", "entity": "campaign"}


@pytest.fixture
def marketer(api: Api, runtime: Any) -> str:
    provision_staff(runtime, MARKETER_USER, MARKETER_PASSWORD, ["marketing"])
    return api.staff_login(MARKETER_USER, MARKETER_PASSWORD)


def invoke(runtime: Any, event: dict[str, Any]) -> dict[str, Any]:
    reply: dict[str, Any] = runtime.invoke("MarketingInternalFunction", event)
    return reply


def counter(aws: Any, key_part: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb").scan(TableName=aws["BUDGETS_TABLE"], ConsistentRead=True)["Items"]
    return [i for i in items if i["pk"]["S"].startswith(marketing_effects.COUNTER_PREFIX) and key_part in i["pk"]["S"]]


def used(aws: Any, campaign_id: str) -> dict[str, int]:
    return {i["pk"]["S"].removeprefix("BUDGET#"): int(i["used"]["N"]) for i in counter(aws, campaign_id)}


def test_reserve_confirm_release_and_budget_exhaustion(api: Api, marketer: str, runtime: Any, aws: Any) -> None:
    cid = running_campaign(api, marketer, budgets=[
        CAMPAIGN_BUDGET, {"action": "redeem", "limit": 3_000, "period": "day", "entity": "customer"}])
    first = invoke(runtime, reserve_event(cid, 2_000, customer="c-a", reservation_id="res-first-0001"))
    assert first["ok"] and first["result"]["status"] == "reserved", first
    # The same reservation again is a replay; the same id for something else is refused.
    assert invoke(runtime, reserve_event(cid, 2_000, customer="c-a", reservation_id="res-first-0001")) == first
    reused = invoke(runtime, reserve_event(cid, 1_000, customer="c-a", reservation_id="res-first-0001"))
    assert reused["error"]["code"] == "RESERVATION_ID_REUSED"
    # c-a's daily budget (30.00) has 10.00 left: 20.00 more is refused, naming the budget.
    over = invoke(runtime, reserve_event(cid, 2_000, customer="c-a"))
    assert over["error"]["code"] == "BUDGET_EXHAUSTED" and over["error"]["status"] == 422
    assert over["error"]["details"] == {"action": "redeem", "limit": 3_000, "period": "day", "entity": "customer"}
    too_big = invoke(runtime, reserve_event(cid, 10_001, customer="c-b"))
    assert too_big["error"]["code"] == "BUDGET_EXHAUSTED"
    assert sum(used(aws, cid).values()) == 4_000  # 2,000 on the campaign's counter and on c-a's day
    # Confirm: spent for good (again: the same answer); it can no longer be released.
    confirmed = invoke(runtime, {"operation": "confirm_budget", "payload": {"reservation_id": "res-first-0001"}})
    assert confirmed["result"]["status"] == "confirmed"
    assert invoke(runtime, {"operation": "confirm_budget", "payload": {"reservation_id": "res-first-0001"}}) == \
        confirmed
    refused = invoke(runtime, {"operation": "release_budget", "payload": {"reservation_id": "res-first-0001"}})
    assert refused["error"]["code"] == "RESERVATION_CONFIRMED"
    # Release: the budget comes back, once.
    second = invoke(runtime, reserve_event(cid, 3_000, customer="c-b"))["result"]["reservation_id"]
    assert invoke(runtime, reserve_event(cid, 3_000, customer="c-c"))["ok"]
    assert invoke(runtime, reserve_event(cid, 2_000, customer="c-d"))["ok"]  # the campaign's 100.00 all used
    assert invoke(runtime, reserve_event(cid, 1, customer="c-e"))["error"]["code"] == "BUDGET_EXHAUSTED"
    for _ in range(2):
        released = invoke(runtime, {"operation": "release_budget", "payload": {"reservation_id": second}})
        assert released["result"]["status"] == "released"
    late = invoke(runtime, {"operation": "confirm_budget", "payload": {"reservation_id": second}})
    assert late["error"]["code"] == "RESERVATION_NOT_ACTIVE"
    assert invoke(runtime, reserve_event(cid, 3_000, customer="c-e"))["ok"]
    assert invoke(runtime, reserve_event(cid, 1, customer="c-f"))["error"]["code"] == "BUDGET_EXHAUSTED"
    missing = invoke(runtime, {"operation": "release_budget", "payload": {"reservation_id": "res-none-0001"}})
    assert missing["error"]["code"] == "RESERVATION_NOT_FOUND"


def test_a_paused_ended_or_unknown_campaign_reserves_nothing(api: Api, marketer: str, runtime: Any,
                                                             aws: Any) -> None:
    cid = running_campaign(api, marketer, budgets=[CAMPAIGN_BUDGET])
    api.call("POST", f"{PATH}/{cid}/transitions", {"action": "pause"}, token=marketer, channel="web")
    assert invoke(runtime, reserve_event(cid, 100))["error"]["code"] == "CAMPAIGN_NOT_RUNNING"
    draft = api.call("POST", PATH, campaign_body(), token=marketer, channel="web").body["campaign_id"]
    assert invoke(runtime, reserve_event(draft, 100))["error"]["code"] == "CAMPAIGN_NOT_RUNNING"
    unknown = invoke(runtime, reserve_event("cmp-00000000000000000000", 100))
    assert unknown["error"]["code"] == "CAMPAIGN_NOT_FOUND"
    for bad in ({"amount": 0}, {"amount": "10"}, {"action": "steal"}, {"campaign_id": "x"}, {"extra": 1}):
        event = reserve_event(cid, 100)
        event["payload"].update(bad)
        assert invoke(runtime, event)["error"]["code"] == "VALIDATION_FAILED", bad
    assert counter(aws, cid) == []


def test_a_pause_between_read_and_write_cancels_the_reservation(api: Api, marketer: str, aws: Any) -> None:
    """The reservation's transaction re-checks that the campaign still runs the version it read."""
    from marketing_center import store

    cid = running_campaign(api, marketer, budgets=[CAMPAIGN_BUDGET])
    live = store.get(cid)
    assert live is not None and live.live_version is not None
    check = store.campaign_live_check(cid, int(live.live_version))
    api.call("POST", f"{PATH}/{cid}/transitions", {"action": "pause"}, token=marketer, channel="web")
    counters = marketing_effects.counters(cid, [marketing_effects.Budget("redeem", 10_000, "campaign", "campaign")],
                                          "redeem", datetime.now(UTC), "c-a")
    with pytest.raises(ddb.TransactionCancelled):
        ddb.transact_write([*marketing_effects.reserve_items("res-paused-001", cid, "redeem", 10, counters, "c-a",
                                                             "", 1), check])
    assert counter(aws, cid) == []


def test_many_reservers_who_all_read_first_never_exceed_the_budget(api: Api, marketer: str, aws: Any) -> None:
    """The race, made deterministic: 40 reservers of 3.00 each build their transactions from the same reads
    (nothing written yet), then all commit. The conditions alone decide: exactly 33 fit in 100.00."""
    cid = running_campaign(api, marketer, budgets=[CAMPAIGN_BUDGET])
    budget = marketing_effects.Budget("redeem", 10_000, "campaign", "campaign")
    now = datetime.now(UTC)
    prepared = []
    for i in range(40):
        counters = marketing_effects.counters(cid, [budget], "redeem", now, f"c-{i}")
        assert marketing_effects.fits(counters, 300) is None  # every one of them sees room
        prepared.append((counters, marketing_effects.reserve_items(f"res-race-{i:04d}", cid, "redeem", 300,
                                                                   counters, f"c-{i}", "", 1)))
    won = refused = 0
    for counters, items in prepared:
        try:
            ddb.transact_write(items)
            won += 1
        except ddb.TransactionCancelled as exc:
            with pytest.raises(marketing_effects.BudgetExhausted):
                marketing_effects.explain_budget(counters, exc.reasons)
            refused += 1
    assert (won, refused) == (33, 7)
    assert used(aws, cid) == {f"{cid}#redeem#campaign#-#campaign#ALL": 9_900}


def test_the_sweeper_releases_expired_reservations_only(api: Api, marketer: str, runtime: Any, aws: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    cid = running_campaign(api, marketer, budgets=[CAMPAIGN_BUDGET])
    old = [invoke(runtime, reserve_event(cid, 1_000))["result"]["reservation_id"] for _ in range(3)]
    confirm = old.pop()
    invoke(runtime, {"operation": "confirm_budget", "payload": {"reservation_id": confirm}})
    # Nothing has expired yet: the scheduled run releases nothing.
    sample = json.loads(open("events/marketing/sweep_budget_reservations.schedule.json").read())
    assert runtime.invoke("SweepBudgetReservationsFunction", sample) == {"released": 0, "skipped": 0}
    from marketing_center.logic import budgets

    later = budgets.now_ms() + (marketing_effects.RESERVATION_TTL_SECONDS + 1) * 1000
    fresh = invoke(runtime, reserve_event(cid, 1_000))["result"]["reservation_id"]
    monkeypatch.setattr(budgets, "now_ms", lambda: later)
    assert runtime.invoke("SweepBudgetReservationsFunction", sample) == {"released": 3, "skipped": 0}
    assert used(aws, cid) == {f"{cid}#redeem#campaign#-#campaign#ALL": 1_000}  # only the confirmed one
    for reservation_id in old + [fresh]:
        got = invoke(runtime, {"operation": "release_budget", "payload": {"reservation_id": reservation_id}})
        assert got["result"]["status"] == "expired"
    assert runtime.invoke("SweepBudgetReservationsFunction", sample) == {"released": 0, "skipped": 0}


def test_a_release_never_takes_a_counter_below_zero(api: Api, marketer: str, aws: Any) -> None:
    cid = running_campaign(api, marketer, budgets=[CAMPAIGN_BUDGET])
    budget = marketing_effects.Budget("redeem", 10_000, "campaign", "campaign")
    counters = marketing_effects.counters(cid, [budget], "redeem", datetime.now(UTC), "c-a")
    ddb.transact_write(marketing_effects.reserve_items("res-neg-0001", cid, "redeem", 500, counters, "c-a", "", 1))
    reservation = {"pk": {"S": "RES#res-neg-0001"}, "amount": {"N": "600"},
                   "counters": {"S": json.dumps([c.key for c in counters])}}
    with pytest.raises(ddb.TransactionCancelled):  # 6.00 back from a counter that holds 5.00: refused whole
        ddb.transact_write(marketing_effects.release_items(reservation, 2))
    assert used(aws, cid) == {f"{cid}#redeem#campaign#-#campaign#ALL": 500}


def test_period_and_entity_counters_are_separate(aws: Any) -> None:
    budgets = [marketing_effects.Budget("redeem", 100, period, entity)
               for period in marketing_effects.PERIODS for entity in marketing_effects.ENTITIES]
    at = datetime(2026, 11, 29, 15, 59, 59, tzinfo=UTC)  # Sunday 23:59:59 in Shanghai
    keys = [c.key for c in marketing_effects.counters("cmp-x", budgets, "redeem", at, "c-1", "d-1")]
    assert len(set(keys)) == 12
    assert "BUDGET#cmp-x#redeem#device#d-1#week#W2026-48" in keys
    nxt = [c.key for c in marketing_effects.counters("cmp-x", budgets, "redeem", at + timedelta(seconds=1), "c-1",
                                                     "d-1")]
    assert "BUDGET#cmp-x#redeem#customer#c-1#week#W2026-49" in nxt
    whole = "BUDGET#cmp-x#redeem#campaign#-#campaign#ALL"
    assert whole in keys and whole in nxt
    assert marketing_effects.counters("cmp-x", budgets, "points", at, "c-1") == []
