"""Business rules of the user center."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from bank_common import client
from bank_common.errors import Conflict, NotFound
from user_center import notifications, store
from user_center.models import Customer
from user_center.schemas import RegisterIn


def register(body: RegisterIn) -> str:
    """Create the customer, then ask the authentication center to hold the password.

    The two centers cannot share a transaction, so a failed credential call deletes the customer again:
    nothing half-registered is left behind.
    """
    customer_id = "c" + uuid.uuid4().hex[:20]
    customer = Customer(f"CUST#{customer_id}", customer_id=customer_id, mobile=body.mobile, status="active",
                        kyc_level="none", created_at=datetime.now(UTC).isoformat())
    try:
        store.create_customer(customer)
    except store.MobileTaken as exc:
        raise Conflict("This mobile number is already registered.", code="MOBILE_ALREADY_REGISTERED") from exc
    try:
        client.call("auth", "create_credential",
                    {"login": f"mobile:{body.mobile}", "subject": customer_id, "password": body.password})
    except BaseException:
        store.delete_customer(customer)
        raise
    notifications.enqueue(customer_id, "welcome")
    return customer_id


def get_customer(payload: dict[str, Any]) -> dict[str, Any]:
    """Internal operation for other centers: the customer's status and KYC level (no PII)."""
    customer = store.get_customer(str(payload.get("customer_id", "")))
    if customer is None:
        raise NotFound("No such customer.", code="CUSTOMER_NOT_FOUND")
    return {"customer_id": customer.customer_id, "status": customer.status, "kyc_level": customer.kyc_level}
