"""Business rules of the user center."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from bank_common import client
from bank_common.errors import ApiError, Conflict, NotFound
from bank_common.schema import canonical_mobile
from user_center import notifications, store
from user_center.models import Customer
from user_center.schemas import RegisterIn


def register(body: RegisterIn) -> str:
    """Register a customer: claim the mobile number (customer pending), have the authentication center
    store the password, then make the customer active.

    The two centers share no transaction, so registration is written to converge instead of undo: when
    the credential call has no answer (a timeout, a crash) the customer stays pending and the caller gets
    503; the same request again picks the pending customer up, the credential call is idempotent for the
    same customer and password, and the customer becomes active once. Nothing is ever deleted, so a
    credential that was in fact stored can never be left behind a number that cannot register again.
    """
    mobile = canonical_mobile(body.mobile)
    customer = Customer(f"CUST#c{uuid.uuid4().hex[:20]}", mobile=mobile, status="pending", kyc_level="none",
                        created_at=datetime.now(UTC).isoformat())
    customer.customer_id = customer.pk.removeprefix("CUST#")
    try:
        store.create_pending(customer)
    except store.MobileTaken:
        existing = store.claimant(mobile)
        if existing is None or existing.status != "pending":
            raise Conflict("This mobile number is already registered.", code="MOBILE_ALREADY_REGISTERED") from None
        customer = existing  # an unfinished registration of this number: finish it
    try:
        client.call("auth", "create_credential",
                    {"login": f"mobile:{mobile}", "subject": customer.customer_id, "password": body.password})
    except ApiError as exc:
        if exc.code == "LOGIN_TAKEN":  # another registration of this number, with another password, got there
            raise Conflict("This mobile number is being registered by another request.",
                           code="REGISTRATION_IN_PROGRESS") from exc
        raise
    if store.activate(customer):
        notifications.enqueue(customer.customer_id, "welcome")
    return str(customer.customer_id)


def get_customer(payload: dict[str, Any]) -> dict[str, Any]:
    """Internal operation for other centers: the customer's status and KYC level (no PII)."""
    customer = store.get_customer(str(payload.get("customer_id", "")))
    if customer is None:
        raise NotFound("No such customer.", code="CUSTOMER_NOT_FOUND")
    return {"customer_id": customer.customer_id, "status": customer.status, "kyc_level": customer.kyc_level}
