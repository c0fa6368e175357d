"""Data access of the user center."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from bank_common import ddb
from user_center.models import Customer, MobileClaim


class MobileTaken(Exception):
    pass


def create_pending(customer: Customer) -> None:
    """The customer and the claim on its mobile number, in one transaction (a number belongs to one customer)."""
    claim = MobileClaim(f"MOBILE#{customer.mobile}", customer_id=customer.customer_id)
    try:
        ddb.transact_write([ddb.put_new(claim), ddb.put_new(customer)])
    except ddb.TransactionCancelled as exc:
        raise MobileTaken() from exc


def claimant(mobile: str) -> Customer | None:
    """The customer a mobile number is claimed by (consistent reads: a racing registration is seen)."""
    try:
        claim = MobileClaim.get(f"MOBILE#{mobile}", consistent_read=True)
    except MobileClaim.DoesNotExist:
        return None
    return get_customer(claim.customer_id)


def activate(customer: Customer) -> bool:
    """pending → active; False when it was active already (another attempt of the same registration)."""
    try:
        customer.update(actions=[Customer.status.set("active")], condition=Customer.status == "pending")
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def get_customer(customer_id: str) -> Customer | None:
    try:
        return Customer.get(f"CUST#{customer_id}", consistent_read=True)
    except Customer.DoesNotExist:
        return None
