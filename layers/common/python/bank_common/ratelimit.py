"""Flow control on sensitive operations: counters in the calling center's own DynamoDB table.

Each rule counts one kind of request per subject (a phone number, a customer, a source IP):
- a fixed window (`Rule("login-ip", 30, seconds=60)`, or `daily=True` for an Asia/Shanghai calendar day):
  `ADD n :1` only while `n < limit`;
- a cooldown (`Rule("otp-resend", 1, seconds=60, cooldown=True)`): `SET last = :now` only when the last one
  was at least that long ago.

A request's rules go into one TransactWriteItems (one UpdateItem when there is one rule), so the check is
atomic however many requests race, and a request refused by one rule uses up none of the others. A refusal
is 429 RATE_LIMITED with Retry-After (seconds until the window ends or the cooldown is over) and the rule.
Items are `pk = RATE#<rule>#<subject>[#<window>]`, `sk = "-"`, and expire with the table's TTL
(`expires_at`). This is on top of API Gateway's per-channel usage plans, which cannot count per phone.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bank_common import config, ddb
from bank_common.ddb import n, s
from bank_common.errors import RateLimited

PREFIX = "RATE#"


@dataclass(frozen=True)
class Rule:
    name: str
    limit: int
    seconds: int = 60
    daily: bool = False  # the window is an Asia/Shanghai calendar day
    cooldown: bool = False  # at most one per `seconds`, measured from the last one


@dataclass(frozen=True)
class Hit:
    rule: Rule
    subject: str


def _window(rule: Rule, now: float) -> tuple[str, float]:
    """The window's id and when it ends (epoch seconds)."""
    if rule.daily:
        local = datetime.fromtimestamp(now, config.SHANGHAI)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return local.strftime("D%Y%m%d"), (midnight + timedelta(days=1)).timestamp()
    start = math.floor(now / rule.seconds) * rule.seconds
    return f"W{int(start)}", float(start + rule.seconds)


def _update(table: str, hit: Hit, now: float) -> tuple[dict[str, Any], float]:
    """The conditional update for one hit, and when it ends (for Retry-After in the window case)."""
    rule = hit.rule
    if rule.cooldown:
        now_ms = int(now * 1000)
        return {
            "TableName": table, "Key": {"pk": s(f"{PREFIX}{rule.name}#{hit.subject}"), "sk": s("-")},
            "UpdateExpression": "SET #last = :now, expires_at = :exp",
            "ConditionExpression": "attribute_not_exists(#last) OR #last <= :since",
            "ExpressionAttributeNames": {"#last": "last_ms"},
            "ExpressionAttributeValues": {":now": n(now_ms), ":since": n(now_ms - rule.seconds * 1000),
                                          ":exp": n(int(now) + rule.seconds + 60)},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }, now + rule.seconds
    window, ends = _window(rule, now)
    return {
        "TableName": table, "Key": {"pk": s(f"{PREFIX}{rule.name}#{hit.subject}#{window}"), "sk": s("-")},
        "UpdateExpression": "ADD #n :one SET expires_at = if_not_exists(expires_at, :exp)",
        "ConditionExpression": "attribute_not_exists(#n) OR #n < :limit",
        "ExpressionAttributeNames": {"#n": "n"},
        "ExpressionAttributeValues": {":one": n(1), ":limit": n(rule.limit), ":exp": n(int(ends) + 60)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }, ends


def _refusal(hit: Hit, old: dict[str, Any] | None, ends: float, now: float) -> RateLimited:
    if hit.rule.cooldown:
        last = int(((old or {}).get("last_ms") or {}).get("N", "0")) / 1000
        ends = last + hit.rule.seconds
    retry = max(1, math.ceil(ends - now))
    return RateLimited(f"Too many requests of this kind; retry in {retry} s.",
                       details={"rule": hit.rule.name, "retry_after": retry},
                       headers={"Retry-After": str(retry)})


def check(table_env: str, hits: list[Hit], now: float | None = None) -> None:
    """Count these hits atomically, or raise 429 for the first rule that is used up (counting none)."""
    hits = [h for h in hits if h.subject]
    if not hits:
        return
    now = time.time() if now is None else now
    table = config.env(table_env)
    updates = [_update(table, hit, now) for hit in hits]
    if len(updates) == 1:
        from botocore.exceptions import ClientError

        try:
            ddb.client().update_item(**updates[0][0])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            raise _refusal(hits[0], exc.response.get("Item"), updates[0][1], now) from exc
        return
    try:
        ddb.transact_write([{"Update": update} for update, _ in updates])
    except ddb.TransactionCancelled as exc:
        for index in exc.failed():
            if exc.reasons[index].code == "ConditionalCheckFailed":
                raise _refusal(hits[index], exc.reasons[index].old_item, updates[index][1], now) from exc
        raise RateLimited("Too many requests at once; retry.", headers={"Retry-After": "1"}) from exc
