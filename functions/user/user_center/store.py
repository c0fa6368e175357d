"""Data access of the user center."""

from __future__ import annotations

from bank_common import ddb
from user_center.models import Customer, MobileClaim


class MobileTaken(Exception):
    pass


def create_customer(customer: Customer) -> None:
    claim = MobileClaim(f"MOBILE#{customer.mobile}", customer_id=customer.customer_id)
    try:
        ddb.transact_write([ddb.put_new(claim), ddb.put_new(customer)])
    except ddb.TransactionCancelled as exc:
        raise MobileTaken() from exc


def delete_customer(customer: Customer) -> None:
    """Undo create_customer (the registration failed further on)."""
    ddb.transact_write([ddb.delete(MobileClaim(f"MOBILE#{customer.mobile}")), ddb.delete(customer)])


def get_customer(customer_id: str) -> Customer | None:
    try:
        return Customer.get(f"CUST#{customer_id}")
    except Customer.DoesNotExist:
        return None
