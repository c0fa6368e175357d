"""pynamodb models of the life center's table (LIFE_TABLE): bill payment orders and reconciliation reports."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from bank_common.ddb import LazyTableMeta


class OpenOrders(GlobalSecondaryIndex["Order"]):
    """Orders someone still has to act on (sparse: `open_status` is set only while paid, processing or
    failed): the poller's work list."""

    class Meta:
        index_name = "open_orders"
        projection = KeysOnlyProjection()

    open_status = UnicodeAttribute(hash_key=True)
    updated_at = UnicodeAttribute(range_key=True)


class ByBillerDate(GlobalSecondaryIndex["Order"]):
    """Paid orders by biller and Asia/Shanghai business date: what a day's reconciliation compares."""

    class Meta:
        index_name = "by_biller_date"
        projection = AllProjection()

    biller_date = UnicodeAttribute(hash_key=True)
    order_no = UnicodeAttribute(range_key=True)


class Order(Model):
    """A bill payment: pk ORDER#<order_no>, sk ORDER. The order number is derived from the customer and their
    Idempotency-Key, so the order item is also the request's idempotency record. Every state change is a
    conditional update from the states it may leave (orders.py)."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "LIFE_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="ORDER")
    order_no = UnicodeAttribute()
    status = UnicodeAttribute()  # pending refused paid processing succeeded failed refunded review
    customer_id = UnicodeAttribute()
    account_id = UnicodeAttribute()
    channel = UnicodeAttribute()
    biller_id = UnicodeAttribute()
    customer_number = UnicodeAttribute()
    amount = NumberAttribute()  # fen
    request_hash = UnicodeAttribute()
    hold_id = UnicodeAttribute(null=True)
    transfer_id = UnicodeAttribute(null=True)  # the capture's movement
    refund_transfer_id = UnicodeAttribute(null=True)
    biller_ref = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    error = UnicodeAttribute(null=True)  # refused: {code, message, details} (replayed to retries)
    http_status = NumberAttribute(null=True)
    business_date = UnicodeAttribute(null=True)  # Asia/Shanghai date of the capture
    biller_date = UnicodeAttribute(null=True)
    open_status = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    paid_at = UnicodeAttribute(null=True)
    processing_since = UnicodeAttribute(null=True)
    coupon_codes = UnicodeAttribute(null=True)  # JSON list, as the customer typed them
    redemption = UnicodeAttribute(null=True)  # the marketing center's prepared plan (JSON), kept for retries
    discount = NumberAttribute(null=True)  # fen, what the coupons pay
    earn = UnicodeAttribute(null=True)  # the points it earns: the marketing center's earn plan (JSON), kept once

    open_orders = OpenOrders()
    by_biller_date = ByBillerDate()


class RateCounter(Model):
    """A flow-control counter of bank_common.ratelimit (pk RATE#<rule>#<customer>#<window>, sk "-"): written by
    the layer, here so the table's TTL attribute is modelled; it expires with its window."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "LIFE_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    n = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class Report(Model):
    """A day's reconciliation with one biller: pk RECON#<biller_id>, sk <business date>; the report is JSON."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "LIFE_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    status = UnicodeAttribute()
    report = UnicodeAttribute()
    created_at = UnicodeAttribute()
