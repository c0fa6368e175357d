"""pynamodb models of the marketing center's tables (names come from env vars when first used).

- CampaignsTable (pk, sk), under `pk = CAMP#<id>`: the campaign (`sk = META`: its state, revision, latest and
  live version), each version as it was saved (`V#<6 digits>`, never changed) and the audit trail of every
  staff action (`AUDIT#<ms>#<8 hex>`). The `by_created` index lists campaigns newest first.
- CouponsTable (pk): coupons `COUPON#<code>` (by_customer lists a customer's), the count of coupons given per campaign
  and customer `ASSIGNED#...` and of redemptions per campaign and device `DEVICE#...`.
- PointsTable (pk, sk), under `pk = CUST#<customer>`: the points ledger `ENTRY#...` (by_time: history) and the lots
  `LOT#<expires at>#...` (see bank_common.marketing_effects).
- AudienceTable (pk, sk): per customer `CUST#<id>` its profile copy `PROFILE` (by_profile lists them), daily behaviour
  counts `AGG#<kind>#<day>` and segment verdicts `MEMBER#<campaign>` (by_member lists members); `EVT#<id>`: events seen.
- BudgetsTable (pk): budget counters `BUDGET#...` and reservations `RES#<id>` (their items are built by
  bank_common.marketing_effects, so that a money transaction can carry them); the sparse `by_expiry` index
  holds reservations while they are open, for the sweeper.
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, JSONAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from bank_common.ddb import LazyTableMeta

LISTING = "CAMPAIGN"


class ByCreated(GlobalSecondaryIndex["Campaign"]):
    class Meta:
        index_name = "by_created"
        projection = AllProjection()

    listing = UnicodeAttribute(hash_key=True)
    created_at_ms = NumberAttribute(range_key=True)


class Campaign(Model):
    """The campaign as it stands: `revision` is the optimistic lock every staff action conditions on."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "CAMPAIGNS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="META")
    campaign_id = UnicodeAttribute()
    name = UnicodeAttribute()
    kind = UnicodeAttribute()
    state = UnicodeAttribute()  # draft | scheduled | running | paused | ended (as stored; time moves it on)
    revision = NumberAttribute()
    version = NumberAttribute()  # the latest saved version
    live_version = NumberAttribute(null=True)  # pinned when scheduled: what runs
    starts_at_ms = NumberAttribute()  # the live (else latest) version's window
    ends_at_ms = NumberAttribute()
    created_by = UnicodeAttribute()
    created_at_ms = NumberAttribute()
    updated_at_ms = NumberAttribute()
    listing = UnicodeAttribute(default=LISTING)
    by_created = ByCreated()


class CampaignVersion(Model):
    """One saved version of a campaign's definition (`content`: the request as saved, money in fen)."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "CAMPAIGNS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    version = NumberAttribute()
    content = JSONAttribute()
    created_by = UnicodeAttribute()
    created_at_ms = NumberAttribute()


class AuditEntry(Model):
    """One staff action on a campaign, written in the same transaction as the change it records."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "CAMPAIGNS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    from_state = UnicodeAttribute(null=True)
    to_state = UnicodeAttribute(null=True)
    version = NumberAttribute(null=True)
    reason = UnicodeAttribute(default="")
    at_ms = NumberAttribute()


class ByExpiry(GlobalSecondaryIndex["BudgetReservation"]):
    class Meta:
        index_name = "by_expiry"
        projection = KeysOnlyProjection()

    open = UnicodeAttribute(hash_key=True)
    expires_at_ms = NumberAttribute(range_key=True)


class BudgetCounter(Model):
    """`BUDGET#<campaign>#<action>#<entity>#<entity id>#<period>#<period key>`: what one budget has used."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "BUDGETS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    used = NumberAttribute(default=0)
    limit = NumberAttribute()
    campaign_id = UnicodeAttribute()


class BudgetReservation(Model):
    """`RES#<id>`: a hold on budget counters for 15 minutes: reserved → confirmed | released | expired."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "BUDGETS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    reservation_id = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    action = UnicodeAttribute()
    amount = NumberAttribute()
    counters = UnicodeAttribute()  # JSON list of counter keys
    customer_id = UnicodeAttribute()
    device_id = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at_ms = NumberAttribute()
    expires_at_ms = NumberAttribute()
    open = UnicodeAttribute(null=True)  # "OPEN" while reserved (the by_expiry index is sparse)
    by_expiry = ByExpiry()


class ByCustomer(GlobalSecondaryIndex["Coupon"]):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    assigned_at_ms = NumberAttribute(range_key=True)


class Coupon(Model):
    """`COUPON#<code>`: one coupon given to one customer, with the campaign's rules as they were when given."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "COUPONS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    code = UnicodeAttribute()
    campaign_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    status = UnicodeAttribute()  # assigned | redeemed (expired: by the clock)
    face_value = NumberAttribute()
    min_spend = NumberAttribute()
    stackable = BooleanAttribute()
    channels = UnicodeAttribute()  # JSON list
    per_device = NumberAttribute()
    expires_at_ms = NumberAttribute()
    assigned_at_ms = NumberAttribute()
    payment_id = UnicodeAttribute(null=True)
    redeemed_at_ms = NumberAttribute(null=True)
    redeemed_device = UnicodeAttribute(null=True)
    used_counters = UnicodeAttribute(null=True)  # JSON list of the budget counters a redemption raised
    device_key = UnicodeAttribute(null=True)
    rolled_back_at_ms = NumberAttribute(null=True)
    rolled_back_payment = UnicodeAttribute(null=True)
    by_customer = ByCustomer()


class CouponCount(Model):
    """`ASSIGNED#<campaign>#<customer>` (coupons given) or `DEVICE#<campaign>#<device>` (redemptions): `n`."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "COUPONS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    n = NumberAttribute(default=0)


class ByTime(GlobalSecondaryIndex["PointsEntry"]):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    pk = UnicodeAttribute(hash_key=True)
    at_ms = NumberAttribute(range_key=True)


class PointsEntry(Model):
    """`CUST#<customer>` / `ENTRY#<source event>#<rule>[#REV]`: one line of the append-only points ledger (earn,
    spend, reversal), put once; the sparse `by_time` index (entries only) is the customer's history."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "POINTS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()  # earn | spend | reversal
    points = NumberAttribute()  # + earned, - spent or reversed
    source_event = UnicodeAttribute()
    rule = UnicodeAttribute()
    campaign_id = UnicodeAttribute(default="-")
    lot = UnicodeAttribute(null=True)  # earn: its lot
    lots = UnicodeAttribute(null=True)  # spend / reversal: JSON {lot: points taken}
    unrecovered = NumberAttribute(null=True)  # reversal: points already spent that could not be taken back
    available_at_ms = NumberAttribute(null=True)
    expires_at_ms = NumberAttribute(null=True)
    at_ms = NumberAttribute()
    by_time = ByTime()


class PointsLot(Model):
    """`CUST#<customer>` / `LOT#<expires at ms>#<source event>#<rule>`: what remains of one earn (FIFO by expiry)."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "POINTS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    points = NumberAttribute()
    remaining = NumberAttribute()
    available_at_ms = NumberAttribute()
    expires_at_ms = NumberAttribute()
    source_event = UnicodeAttribute()
    rule = UnicodeAttribute()


class ByProfile(GlobalSecondaryIndex["AudienceProfile"]):
    class Meta:
        index_name = "by_profile"
        projection = KeysOnlyProjection()

    profile_listing = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class ByMember(GlobalSecondaryIndex["Membership"]):
    class Meta:
        index_name = "by_member"
        projection = KeysOnlyProjection()

    member_of = UnicodeAttribute(hash_key=True)
    pk = UnicodeAttribute(range_key=True)


class AudienceProfile(Model):
    """`CUST#<customer>` / `PROFILE`: what the user center's events said about the customer (no PII: levels,
    dates, channels), listed by `by_profile` for the nightly sweep."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "AUDIENCE_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    profile = JSONAttribute()
    profile_listing = UnicodeAttribute(default="PROFILE")
    updated_at_ms = NumberAttribute()
    by_profile = ByProfile()


class BehaviourCount(Model):
    """`CUST#<customer>` / `AGG#<kind>#<YYYYMMDD>`: events of one kind on one Asia/Shanghai day."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "AUDIENCE_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    n = NumberAttribute()
    expires_at = TTLAttribute(null=True)


class Membership(Model):
    """`CUST#<customer>` / `MEMBER#<campaign>`: the customer's last verdict for a campaign's segment, with why;
    `member_of` (the campaign) only while in, so `by_member` lists a segment's members."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "AUDIENCE_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    member = BooleanAttribute()
    member_of = UnicodeAttribute(null=True)
    version = NumberAttribute()
    reasons = JSONAttribute()
    evaluated_at_ms = NumberAttribute()
    by_member = ByMember()


class SeenEvent(Model):
    """`EVT#<event id>` / `-`: a behaviour event already counted (redeliveries count once); kept a week."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "AUDIENCE_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="-")
    expires_at = TTLAttribute(null=True)
