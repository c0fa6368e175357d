"""What staff see of a campaign: its live figures (what its firings did, what its budgets used, uplift against the
holdout) and a preview before it runs (the segment's size, what its budgets would burn).

Figures add up what the center already keeps, nothing is counted twice for them: the fire records' outcomes
(reached = pushed), the campaign-wide budget counters (redeemed money, points issued), and for uplift the
snapshot's members split by the holdout hash, each converted if they had a transactional behaviour event on or
after the campaign's first Shanghai day. Per-customer and per-device budgets have one counter per customer and
are not summed here. Uplift and the preview read one customer at a time, so they look at most SAMPLE customers
and say when they did (`sampled`).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time
from typing import Any

from bank_common import marketing_effects
from bank_common.money import format_fen
from marketing_center import store
from marketing_center.logic import audience, contact, holdout, segments, states
from marketing_center.logic.budgets import budgets_of
from marketing_center.logic.campaigns import CampaignNotFound, now_ms
from marketing_center.schemas import (
    BudgetBurnOut,
    BudgetUseOut,
    CampaignFiguresOut,
    CampaignPreviewOut,
    UpliftGroupOut,
    UpliftOut,
)

SAMPLE = 500
CONVERSIONS = ("transfer", "deposit", "bill_payment", "wealth_purchase", "coupon_redeemed")
MONEY_ACTIONS = ("redeem", "discount", "cashback")
NOT_COUNTED = {"fired", "audience", "reason"}


def _campaign_content(campaign_id: str, live: bool) -> tuple[Any, dict[str, Any]]:
    campaign = store.get(campaign_id)
    if campaign is None:
        raise CampaignNotFound()
    number = int(campaign.live_version or campaign.version) if live else int(campaign.version)
    version = store.version_of(campaign_id, number)
    assert version is not None, "a campaign's versions are always saved with it"
    return campaign, dict(version.content)


def outcome_counts(outcomes: list[dict[str, Any]]) -> Counter[str]:
    """Firing outcomes added up: a broadcast's counts, a step's or an event's single outcome."""
    total: Counter[str] = Counter()
    for outcome in outcomes:
        if "outcome" in outcome:
            total[str(outcome["outcome"])] += 1
        else:
            total.update({k: int(v) for k, v in outcome.items() if k not in NOT_COUNTED and isinstance(v, int)})
    return total


def live(campaign_id: str) -> CampaignFiguresOut:
    campaign, content = _campaign_content(campaign_id, live=True)
    at = now_ms()
    outcomes = store.firings(campaign_id)
    counts = outcome_counts(outcomes)
    now = datetime.fromtimestamp(at / 1000, UTC)
    wide = [b for b in budgets_of(content) if b.entity == "campaign"]
    keys = {b: marketing_effects.counters(campaign_id, [b], b.action, now, "")[0].key for b in wide}
    used = store.budget_used(list(keys.values()))
    budgets = [BudgetUseOut(action=b.action, limit=b.limit, period=b.period, entity=b.entity,
                            period_key=marketing_effects.period_key(b.period, now), used=used.get(keys[b], 0))
               for b in wide]
    whole = [u for u in budgets if u.period == "campaign"]
    redeemed = sum(u.used for u in whole if u.action in MONEY_ACTIONS)
    points = [u.used for u in whole if u.action == "points"]
    people = store.snapshot(campaign_id)
    return CampaignFiguresOut(
        campaign_id=campaign_id,
        state=states.effective(campaign.state, int(campaign.starts_at_ms), int(campaign.ends_at_ms), at),  # type: ignore[arg-type]
        firings=sum(1 for o in outcomes if o.get("fired", True)), audience=None if people is None else len(people),
        reached=counts.get("pushed", 0), outcomes=dict(sorted(counts.items())),
        redeemed=format_fen(redeemed) if any(u.action in MONEY_ACTIONS for u in whole) else None,
        points_issued=points[0] if points else None, budgets=budgets,
        uplift=None if people is None else uplift(campaign_id, content, people))


def uplift(campaign_id: str, content: dict[str, Any], people: list[str]) -> UpliftOut:
    first_day = audience.shanghai_day(int(content["starts_at_ms"]))
    groups = {True: [0, 0], False: [0, 0]}  # held out → [customers, converted]
    for customer_id in people[:SAMPLE]:
        _, counts, _ = store.audience_items(customer_id)
        converted = any(n > 0 and day >= first_day.strftime("%Y%m%d") for kind in CONVERSIONS
                        for day, n in counts.get(kind, {}).items())
        group = groups[holdout.in_holdout(campaign_id, customer_id, int(content.get("holdout_percent", 0)))]
        group[0] += 1
        group[1] += int(converted)

    def rate(customers: int, converted: int) -> float | None:
        return converted / customers if customers else None

    treated, held = rate(*groups[False]), rate(*groups[True])
    return UpliftOut(
        basis=f"customers with a {', '.join(CONVERSIONS)} event since {first_day.isoformat()}",
        treatment=UpliftGroupOut(customers=groups[False][0], converted=groups[False][1],
                                 rate=None if treated is None else f"{treated:.4f}"),
        holdout=UpliftGroupOut(customers=groups[True][0], converted=groups[True][1],
                               rate=None if held is None else f"{held:.4f}"),
        uplift=None if treated is None or held is None else f"{treated - held:.4f}", sampled=len(people) > SAMPLE)


def preview(campaign_id: str) -> CampaignPreviewOut:
    """The latest version (what scheduling would pin) against the customers the center knows."""
    campaign, content = _campaign_content(campaign_id, live=False)
    at = now_ms()
    today = audience.shanghai_day(at)
    noon = datetime.combine(today, time(4, 0), UTC)  # 12:00 in Shanghai: the policy as by day, quiet hours aside
    known = store.profile_customers(limit=SAMPLE + 1)
    tree = content.get("segment")
    in_segment = held_out = reachable = 0
    for customer_id in known[:SAMPLE]:
        profile, counts, _ = store.audience_items(customer_id)
        if tree and not segments.evaluate(tree, audience.facts_of(profile, counts), today)[0]:
            continue
        in_segment += 1
        verdict = contact.decide(campaign_id, content, customer_id, profile, noon,
                                 broadcast=bool((content.get("trigger") or {}).get("cron")))
        held_out += verdict.reason == "held_out"
        reachable += verdict.outcome == "push"
    offer = content.get("offer") or {}
    burns = []
    for b in budgets_of(content):
        unit = int(offer.get("points") or 0) if b.action == "points" else int(offer.get("amount") or 0)
        burn = unit * (reachable if b.entity == "campaign" else 1)
        burns.append(BudgetBurnOut(action=b.action, limit=b.limit, period=b.period, entity=b.entity, per_use=unit,
                                   uses_covered=b.limit // unit if unit else None, burn_if_each_uses_once=burn,
                                   share_of_limit=f"{burn / b.limit:.4f}"))
    return CampaignPreviewOut(campaign_id=campaign_id, version=int(campaign.version),
                              known_customers=min(len(known), SAMPLE), in_segment=in_segment, held_out=held_out,
                              reachable=reachable, sampled=len(known) > SAMPLE, budgets=burns)
