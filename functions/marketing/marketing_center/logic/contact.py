"""The contact policy: whether (and when) a campaign may push to a customer. Plain functions over what the center
knows; the caps themselves are DynamoDB counters raised under conditions (store.contact_items), so parallel
firings of different campaigns never push a customer more than the caps allow.

In order: the holdout (never contacted: that is how uplift is measured), a campaign not offered in the app (a
push reaches the app), the opt-out (the user center's
notification preferences, carried on the profile copy as `opted_out`), a wealth product's risk level against the
customer's valid risk assessment (C1..C5 allows R1..Rn), a private product never in a broadcast, then quiet hours
21:00-08:00 Asia/Shanghai (deferred to 08:00, never dropped), then the caps: 1 push a Shanghai day and 3 an ISO
week (Shanghai), across campaigns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from bank_common import config, marketing_effects
from marketing_center.logic import holdout

PER_DAY, PER_WEEK = 1, 3
QUIET_FROM, QUIET_UNTIL = time(21, 0), time(8, 0)
RISK_ALLOWS = {"C1": 1, "C2": 2, "C3": 3, "C4": 4, "C5": 5}  # customer level → highest product level (R1..R5)


@dataclass(frozen=True)
class Verdict:
    outcome: str  # push | defer | skip
    reason: str
    defer_until: datetime | None = None


def quiet(at: datetime) -> bool:
    local = at.astimezone(config.SHANGHAI).time()
    return local >= QUIET_FROM or local < QUIET_UNTIL


def quiet_ends(at: datetime) -> datetime:
    """The next 08:00 Asia/Shanghai after `at` (the end of the quiet hours `at` falls in)."""
    local = at.astimezone(config.SHANGHAI)
    morning = local.replace(hour=QUIET_UNTIL.hour, minute=0, second=0, microsecond=0)
    return morning if local < morning else morning + timedelta(days=1)


def risk_allows(profile: dict[str, Any], product_level: str, today: date) -> bool:
    """A valid (unexpired) assessment whose level reaches the product's (R1..R5)."""
    level, expires = profile.get("risk_level"), profile.get("risk_expires_on")
    if level not in RISK_ALLOWS or not expires or date.fromisoformat(str(expires)) < today:
        return False
    return RISK_ALLOWS[str(level)] >= int(product_level[1:])


def decide(campaign_id: str, content: dict[str, Any], customer_id: str, profile: dict[str, Any], at: datetime,
           *, broadcast: bool) -> Verdict:
    """Everything but the caps (those are decided by the counters' conditions when the push is recorded)."""
    if holdout.in_holdout(campaign_id, customer_id, int(content.get("holdout_percent", 0))):
        return Verdict("skip", "held_out")
    if "app" not in content.get("channels", ["app"]):
        return Verdict("skip", "no_app_channel")  # a push reaches the app: the campaign is not offered there
    if not profile:
        return Verdict("skip", "unknown_customer")  # no profile copy: no consent on record
    if profile.get("opted_out", False):
        return Verdict("skip", "opted_out")
    product = content.get("product")
    if product:
        if broadcast and product.get("private"):
            return Verdict("skip", "private_product")
        if not risk_allows(profile, str(product["risk_level"]), at.astimezone(config.SHANGHAI).date()):
            return Verdict("skip", "risk_not_allowed")
    if quiet(at):
        return Verdict("defer", "quiet_hours", quiet_ends(at))
    return Verdict("push", "allowed")


def cap_keys(at: datetime) -> list[tuple[str, int]]:
    """The counters one push raises, with their caps: the Shanghai day's and the ISO week's."""
    return [(f"CONTACT#{marketing_effects.period_key('day', at)}", PER_DAY),
            (f"CONTACT#{marketing_effects.period_key('week', at)}", PER_WEEK)]
