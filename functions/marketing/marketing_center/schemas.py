"""Request and response schemas of the marketing center (they also feed the OpenAPI document)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from bank_common.money import Amount
from bank_common.schema import Meta, MoneyText, Out, Strict, anchored

CampaignId = Annotated[str, Meta(pattern=anchored(r"cmp-[0-9a-f]{20}"), examples=["cmp-0123456789abcdef0123"])]
CampaignKind = Literal["coupon", "instant_discount", "points", "cashback"]
CampaignState = Literal["draft", "scheduled", "running", "paused", "ended"]
Channel = Literal["web", "app", "wechat_mp", "wechat_oa", "alipay_mp"]
Instant = Annotated[datetime, Meta(tz=True, description="RFC 3339 with its offset, e.g. 2026-12-01T00:00:00+08:00 "
                                                       "(campaign windows are read in Asia/Shanghai).")]
PageSize = Annotated[int, Meta(ge=1, le=100, description="Items per page (default 20).")]
# A campaign listing cursor: <created_at>~<campaign id> of the last item of the previous page.
CampaignCursor = Annotated[str, Meta(pattern=anchored(r"[0-9]{13}~cmp-[0-9a-f]{20}"),
                                     description="next_cursor of the previous page.")]
AuditCursor = Annotated[str, Meta(pattern=anchored(r"[0-9]{13}#[0-9a-f]{8}"),
                                  description="next_cursor of the previous page.")]

MAX_BUDGETS = 10


class BudgetIn(Strict):
    action: Annotated[Literal["redeem", "discount", "cashback", "points"],
                      Meta(description="What the budget pays for: coupon redemptions, instant discounts and "
                                       "cashback in fen, points in points.")]
    limit: Annotated[int, Meta(ge=1, le=10**12, description="In the action's unit (fen, or points).")]
    period: Literal["campaign", "day", "week", "month"] = "campaign"
    entity: Literal["campaign", "customer", "device"] = "campaign"


class OfferIn(Strict):
    amount: Amount | None = None  # coupon face value, instant discount or cashback
    points: Annotated[int, Meta(ge=1, le=1_000_000)] | None = None
    min_spend: Amount | None = None


class CouponRulesIn(Strict):
    per_customer: Annotated[int, Meta(ge=1, le=100, description="Coupons one customer may be given.")] = 1
    per_device: Annotated[int, Meta(ge=1, le=1000, description="Redemptions one device may make.")] = 1
    valid_days: Annotated[int, Meta(ge=1, le=366, description="Days a coupon lives once given (never past "
                                                              "the campaign's end).")] = 30
    stackable: Annotated[bool, Meta(description="May be used with other coupons in one payment.")] = False


DomainEvent = Literal["kyc_passed", "first_deposit", "wealth_matured", "birthday"]


class TriggerIn(Strict):
    """When the campaign reaches people: on a cron (a broadcast to its audience, frozen at the first firing) or
    after a domain event about one customer (that customer, `delay_minutes` later)."""

    cron: Annotated[str, Meta(max_length=100, pattern=anchored(r"cron\([0-9A-Za-z*?,/#\- ]{11,90}\)"),
                              description="An EventBridge Scheduler cron, read in Asia/Shanghai, e.g. "
                                          "cron(0 10 * * ? *) (every day at 10:00).")] | None = None
    event: Annotated[DomainEvent, Meta(description="A domain event on the bank's event bus.")] | None = None
    delay_minutes: Annotated[int, Meta(ge=0, le=43200, description="After the event (event triggers).")] = 0


class ProductIn(Strict):
    """The wealth product a campaign promotes: only customers whose valid risk assessment allows its risk level
    are contacted, and a private product is never broadcast."""

    risk_level: Literal["R1", "R2", "R3", "R4", "R5"]
    private: bool = False


class CampaignIn(Strict):
    name: Annotated[str, Meta(min_length=1, max_length=80, pattern=anchored(r"[^\x00-\x1f\x7f]+"))]
    kind: CampaignKind
    starts_at: Instant
    ends_at: Instant
    channels: Annotated[list[Channel], Meta(min_length=1, max_length=5)]
    offer: OfferIn
    budgets: Annotated[list[BudgetIn], Meta(max_length=MAX_BUDGETS)] = []
    holdout_percent: Annotated[int, Meta(ge=0, le=50, description="Share of the audience held out (never "
                                                                   "contacted) to measure uplift.")] = 0
    description: Annotated[str, Meta(max_length=500)] = ""
    coupon_rules: CouponRulesIn | None = None  # coupon campaigns only (defaults apply when absent)
    segment: Annotated[dict[str, Any], Meta(description="Who the campaign is for: a condition tree (all / any / "
                                                        "not over profile fields and behaviour counts).")] | None = None
    trigger: TriggerIn | None = None
    product: ProductIn | None = None

    EXAMPLE: ClassVar[dict[str, Any]] = {
        "name": "Year-end coupon", "kind": "coupon", "starts_at": "2030-12-01T00:00:00+08:00",
        "ends_at": "2030-12-31T23:59:59+08:00", "channels": ["app", "wechat_mp"],
        "offer": {"amount": "10.00", "min_spend": "100.00"}, "holdout_percent": 10,
        "budgets": [{"action": "redeem", "limit": 500000}],
        "segment": {"all": [{"field": "kyc_level", "op": "gte", "value": "L1"},
                            {"behaviour": "login", "days": 30, "op": "gte", "value": 1}]}}



class TransitionIn(Strict):
    EXAMPLE: ClassVar[dict[str, Any]] = {"action": "schedule"}

    action: Annotated[Literal["schedule", "pause", "resume", "end"],
                      Meta(description="schedule (draft → scheduled, pins the latest version; again before the "
                                       "start re-pins), pause, resume, end.")]
    reason: Annotated[str, Meta(max_length=200)] = ""


class BudgetOut(Out):
    action: str
    limit: int
    period: str
    entity: str


class OfferOut(Out):
    amount: MoneyText | None
    points: int | None
    min_spend: MoneyText | None


class CouponRulesOut(Out):
    per_customer: int
    per_device: int
    valid_days: int
    stackable: bool


class CampaignVersionOut(Out):
    version: int
    name: str
    kind: str
    starts_at: str
    ends_at: str
    channels: list[str]
    offer: OfferOut
    budgets: list[BudgetOut]
    holdout_percent: int
    description: str
    coupon_rules: CouponRulesOut | None
    segment: dict[str, Any] | None
    created_by: str
    created_at: str


class CampaignOut(Out):
    campaign_id: str
    state: CampaignState
    stored_state: CampaignState
    version: int
    live_version: int | None
    revision: int
    created_by: str
    created_at: str
    updated_at: str
    latest: CampaignVersionOut
    live: CampaignVersionOut | None


class CampaignSummary(Out):
    campaign_id: str
    name: str
    kind: str
    state: CampaignState
    version: int
    live_version: int | None
    starts_at: str
    ends_at: str
    created_at: str


class CampaignPage(Out):
    items: list[CampaignSummary]
    next_cursor: str | None


class AuditEntryOut(Out):
    at: str
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    version: int | None
    reason: str


class AuditPage(Out):
    campaign_id: str
    items: list[AuditEntryOut]
    next_cursor: str | None


# --- internal operations (other centers, through the cross-center client) ----------------------------------

ReservationId = Annotated[str, Meta(min_length=8, max_length=100, pattern=anchored(r"[A-Za-z0-9][A-Za-z0-9_.:-]*"))]


class ReserveBudgetIn(Strict):
    campaign_id: CampaignId
    reservation_id: ReservationId
    action: Literal["redeem", "discount", "cashback", "points"]
    amount: Annotated[int, Meta(ge=1, le=10**12)]
    customer_id: Annotated[str, Meta(min_length=1, max_length=64)]
    device_id: Annotated[str, Meta(max_length=128)] = ""


class ReservationIn(Strict):
    reservation_id: ReservationId




# --- coupons ---------------------------------------------------------------------------------------------------

CouponCode = Annotated[str, Meta(pattern=anchored(r"[0-9A-Za-z -]{11,16}"),
                                 examples=["9DNL-U7UH-JTD"], description="A coupon code as printed (dashes, "
                                                                         "spaces and case do not matter).")]
CustomerId = Annotated[str, Meta(pattern=anchored(r"[A-Za-z0-9_-]{1,64}"))]
CouponCursor = Annotated[str, Meta(pattern=anchored(r"[0-9]{13}~[2-9A-HJ-NP-Z]{11}"),
                                   description="next_cursor of the previous page.")]


class AssignCouponIn(Strict):
    EXAMPLE: ClassVar[dict[str, Any]] = {"customer_id": "c-0001"}
    customer_id: CustomerId


class CouponOut(Out):
    code: str  # XXXX-XXXX-XXX
    campaign_id: str
    status: Literal["assigned", "redeemed", "expired"]
    face_value: MoneyText
    min_spend: MoneyText
    stackable: bool
    channels: list[str]
    expires_at: str
    assigned_at: str


class CouponPage(Out):
    items: list[CouponOut]
    next_cursor: str | None


class ValidateCouponsIn(Strict):
    codes: Annotated[list[CouponCode], Meta(min_length=1, max_length=5)]
    amount: Amount


CouponReason = Literal["NOT_FOUND", "INVALID_CODE", "EXPIRED", "ALREADY_REDEEMED", "CAMPAIGN_NOT_RUNNING",
                       "CHANNEL_NOT_ALLOWED", "BELOW_MIN_SPEND", "NOT_STACKABLE", "DUPLICATE",
                       "SAME_CAMPAIGN", "DEVICE_LIMIT", "DISCOUNT_EXCEEDS_AMOUNT"]


class CouponCheck(Out):
    code: str
    valid: bool
    reasons: list[CouponReason]
    face_value: MoneyText | None


class CouponValidationOut(Out):
    valid: bool
    discount: MoneyText
    pays: MoneyText
    coupons: list[CouponCheck]


class PrepareRedemptionIn(Strict):
    customer_id: CustomerId
    channel: Channel
    codes: Annotated[list[CouponCode], Meta(min_length=1, max_length=5)]
    amount: Annotated[int, Meta(ge=1, le=10**12)]
    device_id: Annotated[str, Meta(max_length=128)] = ""


class RedeemCouponsIn(Strict):
    customer_id: CustomerId
    channel: Channel
    codes: Annotated[list[CouponCode], Meta(min_length=1, max_length=5)]
    amount: Annotated[int, Meta(ge=1, le=10**12)]
    payment_id: ReservationId
    device_id: Annotated[str, Meta(max_length=128)] = ""


class RollbackCouponIn(Strict):
    code: CouponCode
    payment_id: ReservationId


class AssignCouponInternalIn(Strict):
    campaign_id: CampaignId
    customer_id: CustomerId


# --- points ------------------------------------------------------------------------------------------------------

EventId = Annotated[str, Meta(min_length=1, max_length=100, pattern=anchored(r"[A-Za-z0-9][A-Za-z0-9_.:-]*"))]
RuleId = Annotated[str, Meta(min_length=1, max_length=60, pattern=anchored(r"[A-Za-z0-9][A-Za-z0-9_.:-]*"))]
PointsCursor = Annotated[str, Meta(pattern=anchored(r"[0-9]{13}~[A-Za-z0-9_.:#-]{1,200}"),
                                   description="next_cursor of the previous page.")]


class EarnPointsIn(Strict):
    customer_id: CustomerId
    source_event: EventId
    rule: RuleId
    points: Annotated[int, Meta(ge=1, le=10_000_000)]
    campaign_id: CampaignId | None = None
    valid_days: Annotated[int, Meta(ge=1, le=3660)] = 365


class SpendPointsIn(Strict):
    customer_id: CustomerId
    source_event: EventId
    points: Annotated[int, Meta(ge=1, le=10_000_000)]


class PrepareEarnIn(Strict):
    """A payment about to be captured: which running points campaigns it earns from."""

    customer_id: CustomerId
    channel: Channel
    amount: Annotated[int, Meta(ge=1, le=10**12)]


class ReversePointsIn(Strict):
    customer_id: CustomerId
    source_event: EventId
    rule: RuleId


class PointsLotOut(Out):
    points: int
    remaining: int
    status: Literal["pending", "available", "expired", "used"]
    available_at: str
    expires_at: str


class PointsOut(Out):
    available: int
    pending: int
    lots: list[PointsLotOut]


class PointsEntryOut(Out):
    kind: str
    points: int
    source_event: str
    rule: str
    campaign_id: str
    at: str


class PointsHistoryPage(Out):
    items: list[PointsEntryOut]
    next_cursor: str | None


# --- audience ------------------------------------------------------------------------------------------------------

class ProfileIn(Strict):
    """What the user center's profile events carry (levels, dates, channels: no personal data)."""

    kyc_level: Literal["none", "L1", "L2"] = "none"
    risk_level: Literal["C1", "C2", "C3", "C4", "C5"] | None = None
    risk_expires_on: Annotated[str, Meta(pattern=anchored(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"))] | None = None
    registered_on: Annotated[str, Meta(pattern=anchored(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"))] | None = None
    birthday_month: Annotated[int, Meta(ge=1, le=12)] | None = None
    birthday_day: Annotated[int, Meta(ge=1, le=31)] | None = None
    channels: list[Literal["wechat", "alipay"]] = []
    opted_out: bool = False


class BehaviourEventIn(Strict):
    """A message on the behaviour queue: `kind` profile carries the customer's profile, any other kind is
    counted."""

    event_id: EventId
    customer_id: CustomerId
    kind: Annotated[str, Meta(pattern=anchored(r"profile|[a-z_]{2,30}"))]
    at: Instant
    profile: ProfileIn | None = None


class FiringIn(Strict):
    """What the trigger function gets from Scheduler: a campaign's cron firing, or one customer's step."""

    kind: Literal["campaign", "step"]
    campaign_id: CampaignId
    scheduled_time: Annotated[str, Meta(max_length=40)] | None = None
    customer_id: CustomerId | None = None
    step: Annotated[str, Meta(max_length=80)] | None = None
    broadcast: bool = False


class DomainEventIn(msgspec.Struct, rename={"detail_type": "detail-type"}):
    """An EventBridge event from the bus (the fields the trigger reads; anything else is ignored)."""

    id: str
    detail_type: str
    time: str
    detail: dict[str, Any]


class DryRunIn(Strict):
    EXAMPLE: ClassVar[dict[str, Any]] = {"customer_id": "c-0001"}
    customer_id: CustomerId


class DryRunOut(Out):
    campaign_id: str
    customer_id: str
    version: int
    state: CampaignState
    in_segment: bool
    held_out: bool
    would_reach: bool
    known_customer: bool  # the marketing center has had events about this customer
    reasons: list[str]


# --- figures and preview -----------------------------------------------------------------------------------------

class BudgetUseOut(Out):
    action: str
    limit: int
    period: str
    entity: str
    period_key: str  # the Shanghai period now (ALL for the campaign's life)
    used: int


class UpliftGroupOut(Out):
    customers: int
    converted: int
    rate: str | None  # converted / customers, 4 decimals


class UpliftOut(Out):
    basis: str
    treatment: UpliftGroupOut  # the snapshot's members outside the holdout
    holdout: UpliftGroupOut
    uplift: str | None  # treatment rate - holdout rate
    sampled: bool  # only the first members were read


class CampaignFiguresOut(Out):
    campaign_id: str
    state: CampaignState
    firings: int
    audience: int | None  # the snapshot's size (None before the first firing)
    reached: int  # pushes sent
    outcomes: dict[str, int]  # every firing outcome: pushed, capped, deferred, opted_out, held_out, ...
    redeemed: MoneyText | None  # campaign-wide money budgets used over the campaign's life
    points_issued: int | None  # the campaign-wide points budget used over its life
    budgets: list[BudgetUseOut]  # campaign-wide budgets in their current period
    uplift: UpliftOut | None


class BudgetBurnOut(Out):
    action: str
    limit: int
    period: str
    entity: str
    per_use: int  # the offer's amount (fen) or points
    uses_covered: int | None
    burn_if_each_uses_once: int  # every reachable customer (campaign budgets) or one customer (per-entity ones)
    share_of_limit: str


class CampaignPreviewOut(Out):
    campaign_id: str
    version: int  # the latest version: what scheduling would pin
    known_customers: int
    in_segment: int
    held_out: int
    reachable: int  # in the segment, outside the holdout, and the contact policy allows them
    sampled: bool
    budgets: list[BudgetBurnOut]
