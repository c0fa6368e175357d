"""The audience: behaviour events from other centers (an SQS queue) kept as daily counts per customer and kind,
the user center's profile events kept as a copy, and segment membership re-evaluated for that customer as soon as
either changes (incrementally: only the customer the event is about). Time-relative conditions change with the
date alone, so a nightly sweep re-evaluates the segments that have them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

from bank_common import config, events, obs, schema
from marketing_center import store
from marketing_center.logic import segments, states
from marketing_center.logic.campaigns import live_content, now_ms
from marketing_center.models import Campaign
from marketing_center.schemas import BehaviourEventIn, DryRunOut

SOURCE = "bank.marketing"  # the Birthday events the nightly sweep puts on the bus
KEEP_DAYS = segments.MAX_DAYS + 10  # daily counts outlive the longest window a segment may look back over


def shanghai_day(at_ms: int) -> date:
    return datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(config.SHANGHAI).date()


def segmented_campaigns(at_ms: int) -> list[tuple[Campaign, dict[str, Any]]]:
    """Running (or about to run) campaigns with a segment, with their live version's segment."""
    out = []
    for campaign in store.running_candidates():
        current = states.effective(campaign.state, int(campaign.starts_at_ms), int(campaign.ends_at_ms), at_ms)
        if current not in ("scheduled", "running") or campaign.live_version is None:
            continue
        live = store.version_of(campaign.campaign_id, int(campaign.live_version))
        if live is not None and live.content.get("segment"):
            out.append((campaign, live.content["segment"]))
    return out


def facts_of(profile: dict[str, Any], counts: dict[str, dict[str, int]]) -> segments.Facts:
    return segments.Facts(profile, {kind: {date(int(d[:4]), int(d[4:6]), int(d[6:])): n for d, n in days.items()}
                                    for kind, days in counts.items()})


def reevaluate(customer_id: str, campaigns: list[tuple[Campaign, dict[str, Any]]], at_ms: int) -> int:
    """Evaluate the customer against each campaign's segment; write the verdicts that changed. How many did."""
    profile, counts, members = store.audience_items(customer_id)
    facts, today = facts_of(profile, counts), shanghai_day(at_ms)
    changed = 0
    for campaign, tree in campaigns:
        member, reasons = segments.evaluate(tree, facts, today)
        before = members.get(campaign.campaign_id)
        version = int(campaign.live_version or 0)
        if before is not None and bool(before.member) == member and int(before.version) == version \
                and list(before.reasons) == reasons:
            continue
        store.save_membership(customer_id, campaign.campaign_id, member, version, reasons, at_ms)
        changed += 1
    return changed


def ingest(message: dict[str, Any]) -> None:
    """One behaviour or profile event (an SQS message): counted once, then the customer re-evaluated."""
    try:
        event = schema.decode(message, BehaviourEventIn)
    except Exception as exc:  # noqa: BLE001 - a malformed event can never succeed: log and drop it, do not retry
        obs.log().warning("behaviour event dropped", extra={"problem": str(exc)[:200]})
        return
    at = int(event.at.timestamp() * 1000)
    expires = int((datetime.now(UTC) + timedelta(days=KEEP_DAYS)).timestamp())
    if event.kind == "profile":
        change = store.profile_change(event.customer_id, msgspec.to_builtins(event.profile or {}), now_ms())
    else:
        change = store.count_change(event.customer_id, event.kind, shanghai_day(at).strftime("%Y%m%d"), expires)
    if not store.record_event(event.event_id, event.customer_id, change, expires):
        return  # a redelivery: counted already
    reevaluate(event.customer_id, segmented_campaigns(now_ms()), now_ms())


def sweep(remaining_ms: Callable[[], int] = lambda: 60_000) -> dict[str, Any]:
    """Nightly: re-evaluate every customer against the segments whose conditions depend on the date."""
    at = now_ms()
    relative = [(c, tree) for c, tree in segmented_campaigns(at) if segments.time_relative(tree)]
    evaluated = changed = 0
    if relative:
        for customer_id in store.profile_customers():
            if remaining_ms() < 5_000:
                break
            changed += reevaluate(customer_id, relative, at)
            evaluated += 1
    obs.log().info("segments swept", extra={"campaigns": len(relative), "customers": evaluated, "changed": changed})
    return {"campaigns": len(relative), "customers": evaluated, "changed": changed,
            "birthdays": announce_birthdays(at, remaining_ms)}


def birthday_campaigns(at_ms: int) -> bool:
    """Whether a running campaign's live version is triggered by the Birthday event."""
    return any(((live_content(campaign, at_ms) or {}).get("trigger") or {}).get("event") == "birthday"
               for campaign in store.running_candidates())


def announce_birthdays(at_ms: int, remaining_ms: Callable[[], int]) -> int:
    """Birthday on the bank's bus for each customer whose copied profile has today's (Shanghai) month and day
    (decision 0046), only while a campaign listens for it. Its id names the customer and year: a sweep run twice
    puts the same fact, which the trigger fires once."""
    if not birthday_campaigns(at_ms):
        return 0
    today, announced = shanghai_day(at_ms), 0
    for customer_id in store.profile_customers():
        if remaining_ms() < 5_000:
            break
        profile, _, _ = store.audience_items(customer_id)
        if (profile.get("birthday_month"), profile.get("birthday_day")) == (today.month, today.day):
            announced += events.put_domain_event(SOURCE, events.BIRTHDAY, customer_id,
                                                 f"birthday-{customer_id}-{today.year}")
    return announced


def dry_run(campaign_id: str, customer_id: str) -> DryRunOut:
    """One customer against a campaign as it would run now (its live version, else its latest): in the segment
    or not and why each rule passed or failed, and whether the holdout keeps them out. Changes nothing."""
    from marketing_center.logic import holdout
    from marketing_center.logic.campaigns import CampaignNotFound

    campaign = store.get(campaign_id)
    if campaign is None:
        raise CampaignNotFound()
    number = int(campaign.live_version or campaign.version)
    version = store.version_of(campaign_id, number)
    assert version is not None
    profile, counts, _ = store.audience_items(customer_id)
    tree = version.content.get("segment")
    at = now_ms()
    if tree:
        member, reasons = segments.evaluate(tree, facts_of(profile, counts), shanghai_day(at))
    else:
        member, reasons = True, ["✓ no segment: every customer"]
    held_out = holdout.in_holdout(campaign_id, customer_id, int(version.content.get("holdout_percent", 0)))
    state = states.effective(campaign.state, int(campaign.starts_at_ms), int(campaign.ends_at_ms), at)
    return DryRunOut(campaign_id=campaign_id, customer_id=customer_id, version=number, state=state,  # type: ignore[arg-type]
                     in_segment=member, held_out=held_out, would_reach=member and not held_out and state == "running",
                     reasons=reasons, known_customer=bool(profile) or bool(counts))
