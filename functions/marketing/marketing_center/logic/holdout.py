"""The holdout group: customers a campaign never contacts, so its uplift can be measured against them.

Membership is a pure function of (campaign, customer): the same customer is in or out every time, on every
function and after every redeploy, with nothing stored. SHA-256 spreads ids evenly, so `percent` of the
audience lands in the group.
"""

from __future__ import annotations

import hashlib

BUCKETS = 10_000


def bucket(campaign_id: str, customer_id: str) -> int:
    digest = hashlib.sha256(f"{campaign_id}\x1f{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def in_holdout(campaign_id: str, customer_id: str, percent: int) -> bool:
    return bucket(campaign_id, customer_id) < percent * (BUCKETS // 100)
