"""Data access of the user center (CustomersTable and CustomerDataTable; see models.py)."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from bank_common import ddb
from user_center.models import Consent, Customer, MobileClaim


class MobileTaken(Exception):
    pass


def customer_key(customer_id: str) -> str:
    return f"CUST#{customer_id}"


def create_pending(customer: Customer, consents: list[Consent]) -> None:
    """The customer, the claim on its mobile number and the consents it gave, in one transaction (a number
    belongs to one customer; the consent evidence exists exactly when the customer does)."""
    claim = MobileClaim(f"MOBILE#{customer.mobile}", customer_id=customer.customer_id)
    try:
        ddb.transact_write([ddb.put_new(claim), ddb.put_new(customer), *(ddb.put_new(c) for c in consents)])
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
    """pending → active (the mobile verified by OTP: KYC level L1); False when it was active already (another
    attempt of the same registration)."""
    try:
        customer.update(actions=[Customer.status.set("active"), Customer.kyc_level.set("L1")],
                        condition=Customer.status == "pending")
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def take_over(customer: Customer, challenge_id: str) -> None:
    """A pending registration finished by a later, freshly verified code for the same number."""
    customer.update(actions=[Customer.registration_challenge.set(challenge_id)],
                    condition=Customer.status == "pending")


def get_customer(customer_id: str) -> Customer | None:
    try:
        return Customer.get(customer_key(customer_id), consistent_read=True)
    except Customer.DoesNotExist:
        return None
