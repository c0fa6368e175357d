"""Request and response structs of the life center (also the OpenAPI schemas)."""

from __future__ import annotations

from typing import Annotated, Literal

from bank_common.money import Amount
from bank_common.schema import Meta, MoneyText, Out, Strict, anchored

BillerId = Annotated[str, Meta(min_length=2, max_length=40, pattern=anchored(r"[a-z0-9][a-z0-9-]*"),
                               description="A biller's id (GET /v1/life/billers).")]
CustomerNumber = Annotated[str, Meta(min_length=1, max_length=40, pattern=anchored(r"[0-9A-Za-z-]+"),
                                     description="The customer's number at the biller (meter, account, phone).")]
AccountNumber = Annotated[str, Meta(min_length=6, max_length=40, pattern=anchored(r"[0-9A-Za-z-]+"))]
OrderNo = Annotated[str, Meta(pattern=anchored(r"L[0-9a-f]{31}"), description="A bill payment's order number.")]
BusinessDate = Annotated[str, Meta(pattern=anchored(r"20[0-9]{2}-[01][0-9]-[0-3][0-9]"),
                                   description="An Asia/Shanghai business date (YYYY-MM-DD).")]
BillerKind = Literal["electricity", "water", "gas", "phone_topup", "property"]
OrderStatus = Literal["pending", "refused", "paid", "processing", "succeeded", "failed", "refunded", "review"]


class BillerOut(Out):
    biller_id: str
    kind: BillerKind
    name: str
    customer_number_pattern: str
    min_amount: MoneyText | None = None
    max_amount: MoneyText | None = None
    denominations: list[str] | None = None  # top-ups: the amounts the customer may choose


class BillerList(Out):
    billers: list[BillerOut]


class BillQueryIn(Strict):
    biller_id: BillerId
    customer_number: CustomerNumber


class BillOut(Out):
    biller_id: str
    customer_number: str
    payee_name: str  # masked
    amount_due: MoneyText | None  # None for top-ups: the customer chooses the amount
    denominations: list[str] | None = None
    due_date: str | None = None


CouponCode = Annotated[str, Meta(pattern=anchored(r"[0-9A-Za-z -]{11,16}"), examples=["9DNL-U7UH-JTD"],
                                 description="A coupon code of the customer's (the marketing center's).")]


class PayIn(Strict):
    biller_id: BillerId
    customer_number: CustomerNumber
    account_id: AccountNumber
    amount: Amount
    coupon_codes: Annotated[list[CouponCode], Meta(min_length=1, max_length=5)] | None = None


class OrderOut(Out):
    order_no: str
    status: OrderStatus
    biller_id: str
    customer_number: str
    account_id: str
    amount: MoneyText
    created_at: str
    updated_at: str
    biller_ref: str | None = None
    business_date: str | None = None
    reason: str | None = None
    discount: MoneyText | None = None  # what the coupons paid (the account was debited amount - discount)
    points: int | None = None  # the points the payment earned (pending until the next Asia/Shanghai midnight)


class CallbackIn(Strict):
    order_no: OrderNo
    status: Literal["succeeded", "failed"]
    amount: Amount
    biller_ref: Annotated[str, Meta(min_length=1, max_length=64, pattern=anchored(r"[0-9A-Za-z_-]+"))]
    reason: Annotated[str, Meta(max_length=200)] = ""


class CallbackOut(Out):
    order_no: str
    status: OrderStatus


class ReconItem(Out):
    order_no: str
    category: Literal["matched", "long", "short", "amount_mismatch", "doubtful", "escalated", "resolved"]
    action: str
    ours_status: str | None = None
    ours_amount: MoneyText | None = None
    biller_status: str | None = None
    biller_amount: MoneyText | None = None
    biller_ref: str | None = None


class ReconTotals(Out):
    file_lines: int
    file_total_declared: MoneyText | None
    file_total_computed: MoneyText
    file_total_ok: bool
    biller_succeeded: MoneyText
    ours_succeeded: MoneyText
    difference: MoneyText


class ReconciliationOut(Out):
    biller_id: str
    business_date: str
    status: Literal["balanced", "exceptions", "file_missing", "file_invalid"]
    totals: ReconTotals | None
    counts: dict[str, int]
    items: list[ReconItem]  # everything but plain matches
    carried_to: str | None  # the run that looks at the doubtful items again (T+2)
    created_at: str
    problem: str | None = None
