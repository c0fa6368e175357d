"""Transaction limits, enforced atomically inside the money transaction (DESIGN 5).

Two kinds of data, both owned by the contract & limit center:

- **Definitions** (its LimitDefinitionsTable, item `<id>` / `CURRENT`): the bank's defaults per transaction
  type x channel x authentication level (`BANK#...`), a customer's self-set limits per transaction type x
  channel (`CUST#...`, never above the bank's), and the PBOC account-type caps (`ACCTYPE#<type>`). Ops change
  them through the contract center, with an audit trail; nothing here is a constant any more.
- **Usage** (its LimitUsageTable): amount and count per Asia/Shanghai day, month and year, per customer x
  channel x transaction type (what the bank's and the customer's caps count), and per account and direction
  (what the PBOC caps count: Type II/III outflow, Type II inflow).

A movement reads the definitions and the usage items of its periods in the same BatchGetItem as its accounts
(`definition_keys`, `customer_usage_keys`, `account_usage_keys`), so `plan` refuses what would go over a cap
before anything is written; the period caps then become conditional `ADD` updates on those usage items in the
same TransactWriteItems as the money, so concurrent requests can never together exceed a cap. DynamoDB
conditions cannot add, so `usage + amount <= cap` is written as `usage <= cap - amount`: a cap may be reached
exactly. Holds reserve usage the same way; releases and same-day reversals give it back (`give_back`).

The account center reads the contract center's tables here, inside its money path, instead of calling that
center synchronously: DESIGN 3's one exception to center isolation (docs/decisions/0023).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from bank_common import config
from bank_common.ddb import Cancellation, LazyTableMeta, n, s
from bank_common.errors import BusinessRuleViolation, LimitExceeded
from bank_common.money import Amount, format_fen
from bank_common.schema import Meta, Strict

YUAN = 100
PERIODS = ("daily", "monthly", "yearly")
CURRENT = "CURRENT"  # the sort key of a definition's live value (audit entries sort beside it)
TXN_TYPES = ("transfer", "own_transfer", "outbound_transfer", "bill_pay", "payment", "wealth_purchase")
# Authentication levels of a session (the access token's `acr`): L1 password, L2 password + SMS OTP,
# L3 face verification / step-up.
AUTH_LEVELS = ("L1", "L2", "L3")
ACCOUNT_TYPE_FIELDS = ("out_daily_amount", "out_yearly_amount", "in_daily_amount", "in_yearly_amount",
                       "max_balance")


@dataclass(frozen=True)
class Cap:
    scope: str  # "customer" (channel x type, bank's or self-set) or "account" (PBOC account-type caps)
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


class LimitNotDefined(BusinessRuleViolation):
    code = "LIMIT_NOT_DEFINED"
    message = "This kind of transaction has no limits defined for this channel and authentication; it is refused."


# --- keys --------------------------------------------------------------------------------------------

def bank_key(txn_type: str, channel: str, auth_level: str) -> str:
    return f"BANK#{txn_type}#{channel}#{auth_level}"


def customer_key(customer_id: str, txn_type: str, channel: str) -> str:
    return f"CUST#{customer_id}#{txn_type}#{channel}"


def account_type_key(account_type: str) -> str:
    return f"ACCTYPE#{account_type}"


CAPPED_ACCOUNT_TYPES = ("II", "III")  # the types PBOC caps; Type I and the bank's own accounts have none


@dataclass(frozen=True)
class LimitContext:
    """Who moves money how: what the customer caps of a movement depend on."""

    customer_id: str
    channel: str
    txn_type: str
    auth_level: str
    amount: int
    at: datetime


def definition_keys(ctx: LimitContext) -> list[str]:
    """The definition items a movement reads: the bank's caps for its kind, the customer's own, and the
    account-type caps of every capped type (the accounts' types are known only after the read)."""
    return [bank_key(ctx.txn_type, ctx.channel, ctx.auth_level), customer_key(ctx.customer_id, ctx.txn_type,
                                                                             ctx.channel),
            *(account_type_key(t) for t in CAPPED_ACCOUNT_TYPES)]


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


def same_day(a: datetime, b: datetime) -> bool:
    """Both instants fall on one Asia/Shanghai calendar day."""
    return period_key("daily", a) == period_key("daily", b)


def customer_usage_key(ctx: LimitContext, period: str) -> str:
    return f"CUST#{ctx.customer_id}#CH#{ctx.channel}#TT#{ctx.txn_type}#{period_key(period, ctx.at)}"


def customer_usage_keys(ctx: LimitContext) -> list[str]:
    return [customer_usage_key(ctx, p) for p in PERIODS]


def account_usage_key(account_id: str, direction: str, period: str, at: datetime) -> str:
    """direction: OUT (payments that count for the account's PBOC outflow caps) or IN (inflow caps)."""
    return f"ACCT#{account_id}#{direction}#{period_key(period, at)}"


def account_usage_keys(account_id: str, direction: str, at: datetime) -> list[str]:
    return [account_usage_key(account_id, direction, p, at) for p in ("daily", "yearly")]


def payer_usage_keys(ctx: LimitContext, account_id: str) -> list[str]:
    """What a payment reads before deciding: the customer's usage and the paying account's outflow."""
    return customer_usage_keys(ctx) + account_usage_keys(account_id, "OUT", ctx.at)


# --- definitions -------------------------------------------------------------------------------------

# The bank's defaults and the account-type caps change only by ops' audited edits, a few times a year: each
# execution environment keeps what it read for CACHE_SECONDS, so most money operations read one key fewer per
# kind. A customer's own limits are never cached (a customer who lowers one after a scare means now), nor
# are signatures. The read that finds the cache cold fetches them in the same BatchGetItem: no round trip is
# added either way (docs/decisions/0023).
CACHE_SECONDS = 60.0
_cached: dict[str, tuple[float, dict[str, Any] | None]] = {}


def cacheable(pk: str) -> bool:
    return pk.startswith(("BANK#", "ACCTYPE#"))


def keys_to_read(pks: list[str] | tuple[str, ...]) -> list[str]:
    """The definition keys a read must fetch: the customer's own always, the rest when not cached (fresh)."""
    now = time.monotonic()
    return [pk for pk in pks if not cacheable(pk) or pk not in _cached or now - _cached[pk][0] > CACHE_SECONDS]


def with_cached(pks: list[str] | tuple[str, ...], read: list[str], found: dict[str, dict[str, Any]]
                ) -> dict[str, dict[str, Any]]:
    """`found` (what the read fetched, by pk) completed with the cached definitions among `pks`; the fetched
    cacheable ones (present or absent) are remembered."""
    now = time.monotonic()
    for pk in read:
        if cacheable(pk):
            _cached[pk] = (now, found.get(pk))
    merged = dict(found)
    for pk in pks:
        if pk not in read and pk in _cached and _cached[pk][1] is not None:
            merged[pk] = _cached[pk][1]  # type: ignore[assignment]
    return merged


def forget_cached() -> None:
    """Tests: definitions change between cases."""
    _cached.clear()


def _number(item: dict[str, Any] | None, name: str) -> int | None:
    if not item or name not in item or "N" not in item[name]:
        return None
    return int(item[name]["N"])


def _caps(item: dict[str, Any] | None, scope: str) -> dict[str, Cap]:
    """period → Cap from a definition item (bank default or self-set), wire format."""
    out: dict[str, Cap] = {}
    single = _number(item, "single_amount")
    if single is not None:
        out["single"] = Cap(scope, "single", amount=single)
    for period in PERIODS:
        amount, count = _number(item, f"{period}_amount"), _number(item, f"{period}_count")
        if amount is not None or count is not None:
            out[period] = Cap(scope, period, amount=amount, count=count)
    return out


def _lower(cap: Cap, own: Cap | None) -> Cap:
    """The bank's cap, lowered by the customer's own where the customer set one (never raised by it)."""
    if own is None:
        return cap

    def least(a: int | None, b: int | None) -> int | None:
        return b if a is None else a if b is None else min(a, b)

    return Cap(cap.scope, cap.period, amount=least(cap.amount, own.amount), count=least(cap.count, own.count))


@dataclass(frozen=True)
class Definitions:
    """The definition items a movement read (wire format, by pk)."""

    items: dict[str, dict[str, Any]]

    def customer_caps(self, ctx: LimitContext) -> tuple[Cap, ...]:
        bank = self.items.get(bank_key(ctx.txn_type, ctx.channel, ctx.auth_level))
        if bank is None:
            # An operation with no limit definition is refused rather than allowed without limits.
            raise LimitNotDefined(details={"txn_type": ctx.txn_type, "channel": ctx.channel,
                                           "auth_level": ctx.auth_level})
        own = _caps(self.items.get(customer_key(ctx.customer_id, ctx.txn_type, ctx.channel)), "customer")
        return tuple(_lower(cap, own.get(period)) for period, cap in _caps(bank, "customer").items())

    def account_type(self, account_type: str) -> dict[str, int]:
        item = self.items.get(account_type_key(account_type))
        return {name: value for name in ACCOUNT_TYPE_FIELDS if (value := _number(item, name)) is not None}

    def outflow_caps(self, account_type: str) -> tuple[Cap, ...]:
        caps = self.account_type(account_type)
        return tuple(Cap("account", p, amount=caps[f"out_{p}_amount"]) for p in ("daily", "yearly")
                     if f"out_{p}_amount" in caps)

    def inflow_caps(self, account_type: str) -> tuple[Cap, ...]:
        caps = self.account_type(account_type)
        return tuple(Cap("account", p, amount=caps[f"in_{p}_amount"]) for p in ("daily", "yearly")
                     if f"in_{p}_amount" in caps)

    def max_balance(self, account_type: str) -> int | None:
        return self.account_type(account_type).get("max_balance")


# --- plans -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UsageDelta:
    """What a movement added to one usage item: given back by a release or a same-day reversal."""

    key: str
    amount: int
    count: int

    def to_json(self) -> list[Any]:
        return [self.key, self.amount, self.count]

    @classmethod
    def from_json(cls, raw: list[Any]) -> UsageDelta:
        return cls(str(raw[0]), int(raw[1]), int(raw[2]))


@dataclass
class LimitPlan:
    """Usage updates to put into the money transaction, what each one guards (same order), and what they add."""

    items: list[dict[str, Any]] = field(default_factory=list)
    caps: list[Cap] = field(default_factory=list)
    deltas: list[UsageDelta] = field(default_factory=list)

    def exceeded(self, reasons: list[Cancellation | None]) -> None:
        """Raise LimitExceeded for the first cap whose usage update failed its condition (reasons in the
        order of `items`, None where the item has none)."""
        for cap, reason in zip(self.caps, reasons, strict=True):
            if reason is not None and reason.code == "ConditionalCheckFailed":
                raise exceeded(cap)

    def __add__(self, other: LimitPlan) -> LimitPlan:
        return LimitPlan(self.items + other.items, self.caps + other.caps, self.deltas + other.deltas)


def exceeded(cap: Cap) -> LimitExceeded:
    return LimitExceeded(f"Over the {cap.describe()}.", details={"limit": cap.describe()})


def used(usage: dict[str, dict[str, Any]] | None, key: str) -> tuple[int, int]:
    """(amount, count) of a usage item as read (absent: nothing used yet)."""
    item = (usage or {}).get(key) or {}
    return _number(item, "amount") or 0, _number(item, "txn_count") or 0


def plan(caps: tuple[Cap, ...], key_of: Any, amount: int, at: datetime,
         usage: dict[str, dict[str, Any]] | None = None, count: int = 1) -> LimitPlan:
    """Refuse what goes over a cap (single caps; period caps against `usage`, the items read, wire format);
    return the conditional usage updates for the transaction. `key_of(period)` names the usage item a
    period cap counts in. Several caps of one period (e.g. the customer's and the account's) need
    different keys."""
    result = LimitPlan()
    for cap in caps:
        if cap.period == "single":
            if cap.amount is not None and amount > cap.amount:
                raise exceeded(cap)
            continue
        key = key_of(cap.period)
        used_amount, used_count = used(usage, key)
        if (cap.amount is not None and used_amount + amount > cap.amount) or \
                (cap.count is not None and used_count + count > cap.count):
            raise exceeded(cap)
        result.items.append(_usage_update(key, cap, amount, count, at))
        result.caps.append(cap)
        result.deltas.append(UsageDelta(key, amount, count))
    return result


def plan_customer(defs: Definitions, ctx: LimitContext, usage: dict[str, dict[str, Any]] | None) -> LimitPlan:
    """The bank's caps for this channel x type x authentication level, lowered by the customer's own."""
    return plan(defs.customer_caps(ctx), lambda period: customer_usage_key(ctx, period), ctx.amount, ctx.at, usage)


def plan_account(caps: tuple[Cap, ...], account_id: str, direction: str, amount: int, at: datetime,
                 usage: dict[str, dict[str, Any]] | None) -> LimitPlan:
    """A PBOC account-type cap on one account's outflow (OUT) or inflow (IN)."""
    return plan(caps, lambda period: account_usage_key(account_id, direction, period, at), amount, at, usage)


def _usage_update(key: str, cap: Cap, amount: int, count: int, at: datetime) -> dict[str, Any]:
    conditions, values = [], {":amt": n(amount), ":one": n(count)}
    if cap.amount is not None:
        conditions.append("(attribute_not_exists(#amt) OR #amt <= :amt_max)")
        values[":amt_max"] = n(cap.amount - amount)
    if cap.count is not None:
        conditions.append("(attribute_not_exists(#cnt) OR #cnt <= :cnt_max)")
        values[":cnt_max"] = n(cap.count - count)
    update = _add(key, values, at, cap.period)
    if conditions:
        update["Update"]["ConditionExpression"] = " AND ".join(conditions)
    return update


def _add(key: str, values: dict[str, Any], at: datetime, period: str) -> dict[str, Any]:
    # Keep usage a while after the period ends (statements of limits, disputes), then let TTL drop it.
    expires = period_end(period, at) + timedelta(days=40)
    values[":exp"] = n(int(expires.timestamp()))
    return {"Update": {
        "TableName": LimitUsage.Meta.table_name,
        "Key": {"pk": s(key)},
        "UpdateExpression": "ADD #amt :amt, #cnt :one SET #exp = if_not_exists(#exp, :exp)",
        "ExpressionAttributeNames": {"#amt": "amount", "#cnt": "txn_count", "#exp": "expires_at"},
        "ExpressionAttributeValues": values,
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


def give_back(deltas: list[UsageDelta], at: datetime) -> list[dict[str, Any]]:
    """Unconditional decrements of what a hold or movement added (a release, a same-day reversal)."""
    items = []
    for delta in deltas:
        period = {"D": "daily", "M": "monthly", "Y": "yearly"}[delta.key.rsplit("#", 1)[1][0]]
        items.append(_add(delta.key, {":amt": n(-delta.amount), ":one": n(-delta.count)}, at, period))
    return items


def deltas_json(deltas: list[UsageDelta]) -> str:
    return json.dumps([d.to_json() for d in deltas])


def deltas_from_json(raw: str | None) -> list[UsageDelta]:
    return [UsageDelta.from_json(d) for d in json.loads(raw or "[]")]


def remaining(caps: tuple[Cap, ...], key_of: Any, usage: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    """period → {"amount": fen left, "count": left} under these caps (absent: no cap of that kind)."""
    out: dict[str, dict[str, int]] = {}
    for cap in caps:
        left: dict[str, int] = {}
        if cap.period == "single":
            if cap.amount is not None:
                left["amount"] = cap.amount
        else:
            used_amount, used_count = used(usage, key_of(cap.period))
            if cap.amount is not None:
                left["amount"] = max(0, cap.amount - used_amount)
            if cap.count is not None:
                left["count"] = max(0, cap.count - used_count)
        previous = out.get(cap.period, {})
        out[cap.period] = {k: min(v, previous.get(k, v)) for k, v in left.items()} | \
            {k: v for k, v in previous.items() if k not in left}
    return out


# --- the pynamodb models of the contract & limit center's limit tables -------------------------------
# (that center writes definitions; the layer reads them and writes usage inside money transactions)

class LimitUsage(Model):
    class Meta(metaclass=LazyTableMeta):
        table_env = "LIMIT_USAGE_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    amount = NumberAttribute(default=0)
    txn_count = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


class LimitDefinition(Model):
    """One limit definition (sk CURRENT) or one audit entry of its changes (sk AUDIT#<time>#<id>).

    pk BANK#<txn_type>#<channel>#<auth_level> (the bank's default), CUST#<customer>#<txn_type>#<channel>
    (a customer's self-set limits) or ACCTYPE#<type> (PBOC account-type caps). Amounts in fen; an absent
    attribute means no cap of that kind.
    """

    class Meta(metaclass=LazyTableMeta):
        table_env = "LIMIT_DEFINITIONS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    single_amount = NumberAttribute(null=True)
    daily_amount = NumberAttribute(null=True)
    daily_count = NumberAttribute(null=True)
    monthly_amount = NumberAttribute(null=True)
    monthly_count = NumberAttribute(null=True)
    yearly_amount = NumberAttribute(null=True)
    yearly_count = NumberAttribute(null=True)
    out_daily_amount = NumberAttribute(null=True)
    out_yearly_amount = NumberAttribute(null=True)
    in_daily_amount = NumberAttribute(null=True)
    in_yearly_amount = NumberAttribute(null=True)
    max_balance = NumberAttribute(null=True)
    revision = NumberAttribute(default=0)  # counts changes (optimistic lock of ops' edits)
    updated_by = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    before = UnicodeAttribute(null=True)  # audit entries: the values before and after, JSON
    after = UnicodeAttribute(null=True)


# --- limits as requests state them (the contract center's own limits; a step-up for raising them) ---------

TxnType = Literal["transfer", "outbound_transfer", "bill_pay", "payment", "wealth_purchase"]
Count = Annotated[int, Meta(ge=1, le=100_000)]


class CapsIn(Strict):
    """Caps per transaction and per Asia/Shanghai day, month and year, in amount and count."""

    single_amount: Amount | None = None
    daily_amount: Amount | None = None
    daily_count: Count | None = None
    monthly_amount: Amount | None = None
    monthly_count: Count | None = None
    yearly_amount: Amount | None = None
    yearly_count: Count | None = None


def caps_values(caps: CapsIn) -> dict[str, int]:
    """field → value (fen, or a count) of the caps given: what a limit raise's step-up is bound to."""
    return {f: int(v) for f in type(caps).__struct_fields__ if (v := getattr(caps, f)) is not None}
