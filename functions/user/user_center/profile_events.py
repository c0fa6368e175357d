"""What the user center tells the marketing center (docs/decisions/0032, 0045): a profile snapshot on every
change a segment or the contact policy reads, and KycPassed on the bank's bus.

A snapshot carries levels, dates and channels only (no name, number or ID): KYC level, risk level and expiry,
registration date, birthday (month and day, from the verified ID number), linked channels, and `opted_out`
(marketing topic off, its default, or app push off). Always the whole snapshot, read after the write: the
marketing center's copy is replaced, so any later snapshot repairs one that was lost.
"""

from __future__ import annotations

import uuid
from typing import Any

from bank_common import events
from user_center import store
from user_center.models import Customer

SOURCE = "bank.user"
CHANNEL_OF = {"wechat_mp": "wechat", "wechat_oa": "wechat", "alipay_mp": "alipay"}


def snapshot(customer: Customer) -> dict[str, Any]:
    customer_id = str(customer.customer_id)
    prefs = store.preferences(customer_id)
    topics = dict(prefs.topics) if prefs else {}
    push = dict(prefs.channels) if prefs else {}
    risk = store.current_assessment(customer_id)
    out: dict[str, Any] = {
        "kyc_level": customer.kyc_level if customer.kyc_level in ("L1", "L2") else "none",
        "registered_on": str(customer.created_at)[:10],
        "channels": sorted({CHANNEL_OF[i.provider] for i in store.linked_identities(customer_id)
                            if i.provider in CHANNEL_OF}),
        "opted_out": not topics.get("marketing", False) or not push.get("app_push", True),
    }
    if risk is not None:
        out["risk_level"], out["risk_expires_on"] = risk.level, risk.expires_on
    number = customer.id_number or ""
    if len(number) == 18 and number[10:14].isdigit():  # YYYYMMDD at 6..14 of a resident ID number
        out["birthday_month"], out["birthday_day"] = int(number[10:12]), int(number[12:14])
    return out


def current(customer_id: str) -> dict[str, Any] | None:
    customer = store.get_customer(customer_id)
    return snapshot(customer) if customer is not None and customer.status == "active" else None


def profile_changed(customer_id: str) -> bool:
    """Send the customer's current profile snapshot (after the write that changed it)."""
    profile = current(customer_id)
    return profile is not None and events.send_profile(customer_id, f"profile-{uuid.uuid4().hex}", profile)


def kyc_passed(customer_id: str) -> None:
    """KycPassed on the bus (its id names the fact: a second send is one event downstream), carrying the snapshot
    (a campaign's segment may be evaluated before the queue brings it to the copy), and the snapshot itself."""
    profile = current(customer_id)
    if profile is None:
        return
    events.put_domain_event(SOURCE, events.KYC_PASSED, customer_id, f"kyc-passed-{customer_id}", {"profile": profile})
    events.send_profile(customer_id, f"profile-{uuid.uuid4().hex}", profile)
