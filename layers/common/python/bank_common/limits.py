"""Transaction limits, enforced atomically inside the money transaction (DESIGN 5).

A limit is a cap on amount and/or count over a period, for a scope (customer x channel x transaction type x
authentication level, or one account for the PBOC account-type caps). A movement reads the usage items
of its periods in the same batched read as its accounts (`read_keys`), so `plan` refuses what would go
over a cap before anything is written; the period caps then become conditional `ADD` updates on those
items, in the same TransactWriteItems as the money, so a limit can never be exceeded by concurrent
requests. DynamoDB conditions cannot add, so `usage + amount <= cap` is written as `usage <= cap - amount`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from bank_common import config
from bank_common.ddb import Cancellation, LazyTableMeta, n, s
from bank_common.errors import BusinessRuleViolation, LimitExceeded
from bank_common.money import format_fen

YUAN = 100


@dataclass(frozen=True)
class Cap:
    scope: str  # "customer" (per channel, type, auth level) or "account" (PBOC account-type caps)
    period: str  # "single" | "daily" | "monthly" | "yearly"
    amount: int | None = None  # fen
    count: int | None = None

    def describe(self) -> str:
        parts = []
        if self.amount is not None:
            parts.append(f"{format_fen(self.amount)} CNY")
        if self.count is not None:
            parts.append(f"{self.count} transactions")
        return f"{self.scope} {self.period} limit of {' / '.join(parts)}"


# Bank-wide defaults per transaction type and authentication level (L1 = password login). The contract &
# limit center will own these definitions and per-customer lowering; this table is their fallback.
CUSTOMER_CAPS: dict[tuple[str, str], tuple[Cap, ...]] = {
    ("transfer", "L1"): (
        Cap("customer", "single", amount=50_000 * YUAN),
        Cap("customer", "daily", amount=200_000 * YUAN, count=100),
        Cap("customer", "monthly", amount=1_000_000 * YUAN),
    ),
}
# PBOC caps on outgoing payments by account type (Type II: 10k/day, 200k/year; Type III: 2k/day, 50k/year).
ACCOUNT_TYPE_CAPS: dict[str, tuple[Cap, ...]] = {
    "II": (Cap("account", "daily", amount=10_000 * YUAN), Cap("account", "yearly", amount=200_000 * YUAN)),
    "III": (Cap("account", "daily", amount=2_000 * YUAN), Cap("account", "yearly", amount=50_000 * YUAN)),
}
# PBOC cap on what a Type III account may hold.
BALANCE_CAPS: dict[str, int] = {"III": 2_000 * YUAN}


@dataclass(frozen=True)
class LimitContext:
    customer_id: str
    account_id: str
    account_type: str
    channel: str
    txn_type: str
    auth_level: str
    amount: int
    at: datetime


class LimitNotDefined(BusinessRuleViolation):
    code = "LIMIT_NOT_DEFINED"
    message = "This kind of transaction has no limits defined for this channel and authentication; it is refused."


@dataclass
class LimitPlan:
    """Usage updates to put into the money transaction, and what each one guards (same order)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    caps: list[Cap] = field(default_factory=list)

    def exceeded(self, reasons: list[Cancellation | None]) -> None:
        """Raise LimitExceeded for the first cap whose usage update failed its condition (reasons in the
        order of `items`, None where the item has none)."""
        for cap, reason in zip(self.caps, reasons, strict=True):
            if reason is not None and reason.code == "ConditionalCheckFailed":
                raise _exceeded(cap)


def _exceeded(cap: Cap) -> LimitExceeded:
    return LimitExceeded(f"Over the {cap.describe()}.", details={"limit": cap.describe()})


def caps_for(ctx: LimitContext) -> tuple[Cap, ...]:
    customer = CUSTOMER_CAPS.get((ctx.txn_type, ctx.auth_level))
    if customer is None:
        # An operation with no limit definition is refused rather than allowed without limits.
        raise LimitNotDefined(details={"txn_type": ctx.txn_type, "auth_level": ctx.auth_level})
    return customer + ACCOUNT_TYPE_CAPS.get(ctx.account_type, ())


def read_keys(ctx: LimitContext) -> list[str]:
    """The usage items a movement reads before deciding: its customer caps' periods and every account-type
    cap period of the paying account (its type is not known before the read; extra keys just read nothing)."""
    keys = [usage_key(ctx, cap) for cap in CUSTOMER_CAPS.get((ctx.txn_type, ctx.auth_level), ())
            if cap.period != "single"]
    periods = sorted({cap.period for caps in ACCOUNT_TYPE_CAPS.values() for cap in caps})
    return keys + [usage_key(ctx, Cap("account", period)) for period in periods]


def plan(ctx: LimitContext, usage: dict[str, dict[str, Any]] | None = None) -> LimitPlan:
    """Refuse what goes over a cap (single caps; period caps against `usage`, the items `read_keys` named
    as read, wire format); return the period-usage updates for the transaction."""
    result = LimitPlan()
    for cap in caps_for(ctx):
        if cap.amount is not None and ctx.amount > cap.amount:
            raise _exceeded(cap)
        if cap.period == "single":
            continue
        used = (usage or {}).get(usage_key(ctx, cap)) or {}
        used_amount, used_count = int(used.get("amount", {"N": "0"})["N"]), int(used.get("txn_count", {"N": "0"})["N"])
        if (cap.amount is not None and used_amount + ctx.amount > cap.amount) or \
                (cap.count is not None and used_count + 1 > cap.count):
            raise _exceeded(cap)
        result.items.append(_usage_update(ctx, cap))
        result.caps.append(cap)
    return result


def usage_key(ctx: LimitContext, cap: Cap) -> str:
    period = period_key(cap.period, ctx.at)
    if cap.scope == "account":
        return f"ACCT#{ctx.account_id}#OUT#{period}"
    return f"CUST#{ctx.customer_id}#CH#{ctx.channel}#TT#{ctx.txn_type}#AL#{ctx.auth_level}#{period}"


def period_key(period: str, at: datetime) -> str:
    local = at.astimezone(config.SHANGHAI)
    return {"daily": local.strftime("D%Y%m%d"), "monthly": local.strftime("M%Y%m"),
            "yearly": local.strftime("Y%Y")}[period]


def period_end(period: str, at: datetime) -> datetime:
    local = at.astimezone(config.SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return local + timedelta(days=1)
    if period == "monthly":
        return (local.replace(day=1) + timedelta(days=32)).replace(day=1)
    return local.replace(year=local.year + 1, month=1, day=1)


def _usage_update(ctx: LimitContext, cap: Cap) -> dict[str, Any]:
    conditions, values = [], {":amt": n(ctx.amount), ":one": n(1)}
    if cap.amount is not None:
        conditions.append("(attribute_not_exists(#amt) OR #amt <= :amt_max)")
        values[":amt_max"] = n(cap.amount - ctx.amount)
    if cap.count is not None:
        conditions.append("(attribute_not_exists(#cnt) OR #cnt <= :cnt_max)")
        values[":cnt_max"] = n(cap.count - 1)
    # Keep usage a while after the period ends (statements of limits, disputes), then let TTL drop it.
    expires = period_end(cap.period, ctx.at) + timedelta(days=40)
    values[":exp"] = n(int(expires.timestamp()))
    update: dict[str, Any] = {
        "TableName": LimitUsage.Meta.table_name,
        "Key": {"pk": s(usage_key(ctx, cap))},
        "UpdateExpression": "ADD #amt :amt, #cnt :one SET #exp = if_not_exists(#exp, :exp)",
        "ExpressionAttributeNames": {"#amt": "amount", "#cnt": "txn_count", "#exp": "expires_at"},
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }
    if conditions:
        update["ConditionExpression"] = " AND ".join(conditions)
    return {"Update": update}


# The pynamodb model of the limit-usage table (owned by the contract & limit center; written only here).

class LimitUsage(Model):
    class Meta(metaclass=LazyTableMeta):
        table_env = "LIMIT_USAGE_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    amount = NumberAttribute(default=0)
    txn_count = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)
