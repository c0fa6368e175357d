"""Scheduled and event-driven marketing: a campaign's cron schedule kept in step with its state, and what each
firing does.

- A campaign's cron firing reaches its audience (a snapshot of the segment's members taken at its first firing,
  so the audience of a running campaign does not drift), each customer through the contact policy.
- A domain event (KYC passed, first deposit, wealth matured, birthday) reaches the customer it is about, for every
  running campaign triggered by it whose segment holds them, now or `delay_minutes` later (a one-time schedule).
- A customer step fires a deferred contact (after quiet hours, or a domain event's delay).

Every firing first writes its fire record (store.start_firing), so a firing delivered twice runs once, and every
contact is recorded once per (campaign, step), so a firing that runs again never pushes anyone twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from bank_common import ddb, obs, schema
from marketing_center import push, schedules, store
from marketing_center.logic import audience, contact, segments
from marketing_center.logic.budgets import _retrying
from marketing_center.logic.campaigns import live_content, ms
from marketing_center.schemas import DomainEventIn, FiringIn, ProfileIn

# EventBridge detail-types on the bank's bus → the trigger names campaigns use.
DOMAIN_EVENTS = {"KycPassed": "kyc_passed", "FirstDeposit": "first_deposit", "WealthMatured": "wealth_matured",
                 "Birthday": "birthday"}


# --- staff actions → the campaign's schedule ---------------------------------------------------------------

def before_running(campaign_id: str, content: dict[str, Any], now_ms: int) -> None:
    """Schedule or resume: the campaign's cron (if it has one) from its start, or now, to its end. Created before
    the state is saved: a firing checks the state, so a schedule left by a failed save fires into nothing."""
    cron = (content.get("trigger") or {}).get("cron")
    if cron:
        starts = datetime.fromtimestamp(max(int(content["starts_at_ms"]), now_ms) / 1000, UTC)
        ends = datetime.fromtimestamp(int(content["ends_at_ms"]) / 1000, UTC)
        schedules.put_campaign_cron(campaign_id, cron, starts, ends)


def after_stopping(campaign_id: str, content: dict[str, Any]) -> None:
    """Pause or end: the cron schedule is removed (after the state is saved; a resume creates it again)."""
    if (content.get("trigger") or {}).get("cron"):
        schedules.delete_campaign_cron(campaign_id)


# --- firings ---------------------------------------------------------------------------------------------------

def handle(event: dict[str, Any], target_arn: str) -> dict[str, Any]:
    """The trigger function: Scheduler's firings and the bus's domain events. `target_arn`: this function's alias
    (what the one-time schedules it creates invoke)."""
    if "detail-type" in event:
        return domain_event(schema.decode(event, DomainEventIn), target_arn)
    firing = schema.decode(event, FiringIn)
    at = schedules.scheduled_time(firing.scheduled_time)
    if firing.kind == "campaign":
        return campaign_firing(firing.campaign_id, at, target_arn)
    if not firing.customer_id or not firing.step:
        raise ValueError("a step firing names its customer and step")
    return step_firing(firing.campaign_id, firing.customer_id, firing.step, firing.broadcast, at, target_arn)


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def running_content(campaign_id: str, at: datetime) -> dict[str, Any] | None:
    """The live version's content of a campaign running at `at` (None when it does not run then)."""
    campaign = store.get(campaign_id)
    return live_content(campaign, ms(at)) if campaign is not None else None


def campaign_firing(campaign_id: str, at: datetime, target_arn: str) -> dict[str, Any]:
    fire_key = f"CRON#{_stamp(at)}"
    if not store.start_firing(campaign_id, fire_key, ms(at)):
        return {"fired": False, "reason": "already_fired"}
    content = running_content(campaign_id, at)
    if content is None:
        outcome: dict[str, Any] = {"fired": False, "reason": "not_running"}
    else:
        people = store.snapshot(campaign_id)
        if people is None:
            people = store.take_snapshot(campaign_id, store.members(campaign_id) if content.get("segment")
                                         else store.profile_customers(), ms(at))
        counts = Counter(reach(campaign_id, content, customer_id, _stamp(at), at, target_arn, broadcast=True)
                         for customer_id in people)
        outcome = {"fired": True, "audience": len(people), **dict(counts)}
    store.finish_firing(campaign_id, fire_key, outcome)
    obs.log().info("campaign fired", extra={"campaign_id": campaign_id, **outcome})
    return outcome


def step_firing(campaign_id: str, customer_id: str, step: str, broadcast: bool, at: datetime,
                target_arn: str) -> dict[str, Any]:
    fire_key = f"STEP#{customer_id}#{step}#{_stamp(at)}"
    if not store.start_firing(campaign_id, fire_key, ms(at)):
        return {"fired": False, "reason": "already_fired"}
    content = running_content(campaign_id, at)
    outcome = {"fired": False, "reason": "not_running"} if content is None else \
        {"fired": True, "outcome": reach(campaign_id, content, customer_id, step, at, target_arn,
                                         broadcast=broadcast)}
    store.finish_firing(campaign_id, fire_key, outcome)
    return outcome


def domain_event(event: DomainEventIn, target_arn: str) -> dict[str, Any]:
    kind = DOMAIN_EVENTS.get(event.detail_type)
    customer_id = str(event.detail.get("customer_id") or "")
    if kind is None or not customer_id:
        obs.log().warning("domain event ignored", extra={"detail_type": event.detail_type})
        return {"campaigns": 0}
    at = datetime.fromisoformat(event.time.replace("Z", "+00:00"))
    # The emitter's id names the business fact (bank_common.events): the same fact put twice fires once.
    fact = str(event.detail.get("event_id") or event.id)[:80]
    outcomes: dict[str, str] = {}
    for campaign in store.running_candidates():
        content = running_content(campaign.campaign_id, at)
        if content is None or (content.get("trigger") or {}).get("event") != kind:
            continue
        fire_key = f"EVT#{fact}"
        if not store.start_firing(campaign.campaign_id, fire_key, ms(at)):
            outcomes[campaign.campaign_id] = "already_fired"
            continue
        outcomes[campaign.campaign_id] = _follow_up(campaign.campaign_id, content, customer_id, fact, at,
                                                    target_arn, carried_profile(event.detail))
        store.finish_firing(campaign.campaign_id, fire_key, {"outcome": outcomes[campaign.campaign_id]})
    return {"campaigns": len(outcomes), "outcomes": outcomes}


def carried_profile(detail: dict[str, Any]) -> dict[str, Any]:
    """The profile snapshot a domain event carries (KycPassed: the customer as of the fact), else nothing. It may
    arrive before the same snapshot reaches the copy through the behaviour queue; a malformed one is ignored."""
    try:
        return msgspec.to_builtins(schema.decode(detail["profile"], ProfileIn)) if "profile" in detail else {}
    except Exception:  # noqa: BLE001 - the copy is used as it is
        obs.log().warning("carried profile ignored")
        return {}


def _follow_up(campaign_id: str, content: dict[str, Any], customer_id: str, step: str, at: datetime,
               target_arn: str, carried: dict[str, Any]) -> str:
    if content.get("segment"):
        profile, counts, _ = store.audience_items(customer_id)
        profile = {**profile, **carried}
        member, _ = segments.evaluate(content["segment"], audience.facts_of(profile, counts),
                                      audience.shanghai_day(ms(at)))
        if not member:
            return "not_in_segment"
    delay = int((content.get("trigger") or {}).get("delay_minutes", 0))
    if delay:
        schedules.put_step(campaign_id, customer_id, step, at + timedelta(minutes=delay), target_arn, broadcast=False)
        return "scheduled"
    return reach(campaign_id, content, customer_id, step, at, target_arn, broadcast=False, carried=carried)


def reach(campaign_id: str, content: dict[str, Any], customer_id: str, step: str, at: datetime, target_arn: str,
          *, broadcast: bool, carried: dict[str, Any] | None = None) -> str:
    """One customer, one step, through the contact policy: pushed, deferred (a one-time schedule at the end of the
    quiet hours), or why not. `carried`: the profile a domain event brought, newer than the copy may be yet."""
    verdict = contact.decide(campaign_id, content, customer_id, {**store.profile_of(customer_id), **(carried or {})},
                             at, broadcast=broadcast)
    if verdict.outcome == "skip":
        return verdict.reason
    if verdict.outcome == "defer":
        assert verdict.defer_until is not None
        schedules.put_step(campaign_id, customer_id, step, verdict.defer_until, target_arn, broadcast=broadcast)
        return "deferred"
    items = store.contact_items(customer_id, contact.cap_keys(at), campaign_id, step, ms(at))
    try:
        _retrying(lambda: ddb.transact_write(items))
    except ddb.TransactionCancelled as exc:
        return "already_reached" if exc.failed() == [len(items) - 1] else "capped"
    try:
        push.sender().send(customer_id, content["name"], content.get("description") or content["name"], campaign_id)
    except Exception:  # noqa: BLE001 - recorded as reached: a retry must never push twice; the failure is logged
        obs.log().exception("push failed", extra={"campaign_id": campaign_id})
        return "push_failed"
    return "pushed"
