"""Routes of the life center: parse → call the rules → shape the response."""

from __future__ import annotations

from typing import Annotated, Any

from bank_common.http import Blueprint, Link, Request, route
from bank_common.schema import Meta
from life_center import billers, orders, reconciliation, signing
from life_center.schemas import (
    BillerId,
    BillerList,
    BillerOut,
    BillOut,
    BillQueryIn,
    BusinessDate,
    CallbackIn,
    CallbackOut,
    OrderNo,
    OrderOut,
    PayIn,
    ReconciliationOut,
)

bp = Blueprint(__name__)
CENTER = "life"
OPS = ("ops",)
Timestamp = Annotated[str, Meta(pattern=r"^[0-9]{1,12}$", description="Unix seconds when the biller signed.")]
Signature = Annotated[str, Meta(pattern=r"^[0-9a-fA-F]{64}$",
                                description="Hex HMAC-SHA256 of `<timestamp>.<raw body>` with the biller's secret.")]

ORDER_LINK = {"GetBillPayment": Link.to("get_bill_payment", "The payment's state.",
                                        parameters={"order_no": "$response.body#/order_no"})}


@route(bp, "GET", "/v1/life/billers", operation="list_billers", summary="Billers a customer can pay",
       center=CENTER, response_model=BillerList, customer_only=True, errors=(403,))
def list_billers(req: Request) -> BillerList:
    return BillerList(billers=[BillerOut(biller_id=b.biller_id, kind=b.kind, name=b.name,
                                         customer_number_pattern=b.customer_number_pattern, min_amount=b.min_amount,
                                         max_amount=b.max_amount, denominations=b.denominations)
                               for b in billers.catalog().values()])


@route(bp, "POST", "/v1/life/bills/query", operation="query_bill",
       summary="A bill: the amount due and the payee's masked name (top-ups: the amounts on offer)",
       center=CENTER, request_model=BillQueryIn, response_model=BillOut, customer_only=True,
       errors=(403, 404, 422, 429, 503),
       description="At most 60 queries per customer in 10 minutes (429 RATE_LIMITED with Retry-After).")
def query_bill(req: Request) -> BillOut:
    return orders.query_bill(req.caller.subject, req.body.biller_id, req.body.customer_number)


@route(bp, "POST", "/v1/life/payments", operation="pay_bill",
       summary="Pay a bill or top up: an order under a hold, sent to the biller through a queue",
       center=CENTER, request_model=PayIn, response_model=OrderOut, status=201, customer_only=True,
       idempotent=True, errors=(403, 404, 409, 422, 503), links=ORDER_LINK,
       description="The order number comes from the Idempotency-Key: the same key and body replay the order (as it "
                   "is now), another body is 422 IDEMPOTENCY_KEY_REUSED. The money is captured to the biller's "
                   "settlement account before the biller is asked (`paid`); a biller's refusal refunds it to the "
                   "same account (`refunded`); an unanswered payment stays `processing` until the biller answers "
                   "(callback or poll) or goes to `review`, never refunded blind. Type II/III outflow caps count it. "
                   "`coupon_codes`: the customer's coupons (the marketing center checks them: 422 "
                   "COUPONS_NOT_APPLICABLE with every reason); the account is debited `amount - discount` and the "
                   "coupons are redeemed in the same transaction as the money (a coupon used meanwhile: 409 "
                   "COUPON_NOT_REDEEMABLE, 422 BUDGET_EXHAUSTED or COUPON_DEVICE_LIMIT, nothing moved, nothing used); "
                   "a refund gives the coupons back.")
def pay_bill(req: Request) -> OrderOut:
    return orders.pay(req.caller, req.channel_name, req.key, req.body)


@route(bp, "GET", "/v1/life/payments/{order_no}", operation="get_bill_payment", summary="A bill payment's state",
       center=CENTER, response_model=OrderOut, customer_only=True, errors=(403, 404),
       path_params={"order_no": OrderNo})
def get_bill_payment(req: Request) -> OrderOut:
    return orders.get_for(req.caller.subject, req.path_params["order_no"])


@route(bp, "POST", "/v1/life/callbacks/{biller_id}", operation="biller_callback",
       summary="A biller's signed result of a payment (billers only, no customer token)", center=CENTER,
       request_model=CallbackIn, response_model=CallbackOut, public=True, channel_required=False,
       errors=(401, 404, 409, 422), path_params={"biller_id": BillerId},
       headers={signing.TIMESTAMP_HEADER: Timestamp, signing.SIGNATURE_HEADER: Signature},
       description="Signed with the biller's shared secret: HMAC-SHA256 over `<timestamp>.<raw body>`, hex, "
                   "within 5 minutes of now (401 SIGNATURE_REQUIRED, BAD_SIGNATURE, STALE_TIMESTAMP). The same "
                   "result again is answered the same; another result than the order has is 409 RESULT_CONFLICT.")
def biller_callback(req: Request) -> dict[str, Any]:
    return orders.callback(req.path_params["biller_id"], req.raw_body, req.headers.get("x-biller-timestamp"),
                           req.headers.get("x-biller-signature"), req.body)


@route(bp, "GET", "/v1/ops/life/reconciliations/{biller_id}/{business_date}", operation="get_reconciliation",
       summary="A day's reconciliation report with one biller (ops)", center=CENTER,
       response_model=ReconciliationOut, roles=OPS, errors=(403, 404),
       path_params={"biller_id": BillerId, "business_date": BusinessDate})
def get_reconciliation(req: Request) -> dict[str, Any]:
    return reconciliation.report(req.path_params["biller_id"], req.path_params["business_date"])
