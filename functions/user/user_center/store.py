"""Data access of the user center (CustomersTable and CustomerDataTable; see models.py)."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import DeleteError, UpdateError
from pynamodb.expressions.update import Action

from bank_common import ddb
from user_center.models import (
    Address,
    Claim,
    Consent,
    Customer,
    KycAttempt,
    LinkedIdentity,
    MobileClaim,
    Preferences,
    RiskAssessment,
)


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


# --- profile, preferences, addresses, risk ----------------------------------------------------------------

def update_contact_details(customer: Customer, nickname: str | None, email: str | None) -> None:
    actions: list[Action] = []
    if nickname is not None:
        actions.append(Customer.nickname.set(nickname))
    if email is not None:
        actions.append(Customer.email.set(email))
    if actions:
        customer.update(actions=actions, condition=Customer.pk.exists())


def preferences(customer_id: str) -> Preferences | None:
    try:
        return Preferences.get(customer_key(customer_id), "PREFS", consistent_read=True)
    except Preferences.DoesNotExist:
        return None


def save_preferences(prefs: Preferences) -> None:
    prefs.save()


def addresses(customer_id: str) -> list[Address]:
    return list(Address.query(customer_key(customer_id), Address.sk.startswith("ADDR#"), consistent_read=True))


def address(customer_id: str, address_id: str) -> Address | None:
    try:
        return Address.get(customer_key(customer_id), f"ADDR#{address_id}", consistent_read=True)
    except Address.DoesNotExist:
        return None


def save_address(address: Address, demoted: list[Address], must_exist: bool = False) -> None:
    """The address, and the former default demoted, in one transaction (one default at a time)."""
    put = address.serialize()
    item: dict[str, Any] = {"Put": {"TableName": ddb.table_name(Address), "Item": put,
                                    "ConditionExpression": "attribute_exists(pk)" if must_exist
                                    else "attribute_not_exists(pk)"}}
    updates = [{"Update": {"TableName": ddb.table_name(Address), "Key": {"pk": {"S": a.pk}, "sk": {"S": a.sk}},
                           "UpdateExpression": "SET is_default = :no", "ConditionExpression": "attribute_exists(pk)",
                           "ExpressionAttributeValues": {":no": {"BOOL": False}}}} for a in demoted]
    ddb.transact_write([item, *updates])


def delete_address(customer_id: str, address_id: str) -> bool:
    try:
        Address(customer_key(customer_id), f"ADDR#{address_id}").delete(condition=Address.pk.exists())
    except DeleteError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def save_assessment(assessment: RiskAssessment, at_ms: int) -> None:
    """The assessment in the history (RISK#<ms>) and as the current one (RISK#CURRENT), together."""
    history = RiskAssessment(**{**assessment.attribute_values, "sk": f"RISK#{at_ms:015d}"})
    latest = RiskAssessment(**{**assessment.attribute_values, "sk": "RISK#CURRENT"})
    ddb.transact_write([{"Put": {"TableName": ddb.table_name(RiskAssessment), "Item": history.serialize()}},
                        {"Put": {"TableName": ddb.table_name(RiskAssessment), "Item": latest.serialize()}}])


def current_assessment(customer_id: str) -> RiskAssessment | None:
    try:
        return RiskAssessment.get(customer_key(customer_id), "RISK#CURRENT", consistent_read=True)
    except RiskAssessment.DoesNotExist:
        return None


# --- channel identities ------------------------------------------------------------------------------------

def claim_owner(key: str) -> str | None:
    try:
        return str(Claim.get(key, consistent_read=True).customer_id)
    except Claim.DoesNotExist:
        return None


def claim_check(key: str, customer_id: str) -> dict[str, Any]:
    """A transaction item: the claim still belongs to this customer."""
    return {"ConditionCheck": {"TableName": ddb.table_name(Claim), "Key": {"pk": {"S": key}},
                               "ConditionExpression": "customer_id = :me",
                               "ExpressionAttributeValues": {":me": {"S": customer_id}}}}


def linked_identities(customer_id: str) -> list[LinkedIdentity]:
    return list(LinkedIdentity.query(customer_key(customer_id), LinkedIdentity.sk.startswith("IDENT#"),
                                     consistent_read=True))


def linked_identity(customer_id: str, identity_id: str) -> LinkedIdentity | None:
    try:
        return LinkedIdentity.get(customer_key(customer_id), f"IDENT#{identity_id}", consistent_read=True)
    except LinkedIdentity.DoesNotExist:
        return None


# --- KYC ---------------------------------------------------------------------------------------------------

def save_kyc(attempt: KycAttempt) -> None:
    attempt.save(condition=KycAttempt.pk.does_not_exist())


def kyc_attempt(customer_id: str, kyc_id: str) -> KycAttempt | None:
    try:
        return KycAttempt.get(customer_key(customer_id), f"KYC#{kyc_id}", consistent_read=True)
    except KycAttempt.DoesNotExist:
        return None


def kyc_attempts(customer_id: str) -> list[KycAttempt]:
    return list(KycAttempt.query(customer_key(customer_id), KycAttempt.sk.startswith("KYC#"), consistent_read=True))


def finish_kyc_item(attempt: KycAttempt, status: str, reason: str | None, ocr: dict[str, Any] | None,
                    face: dict[str, Any] | None) -> dict[str, Any]:
    """A transaction item: the attempt finished (only once: it must still be uploading)."""
    import json
    from datetime import UTC, datetime

    names = {"#status": "status", "#reason": "reason", "#ocr": "ocr", "#face": "face"}
    values: dict[str, Any] = {":status": {"S": status}, ":uploading": {"S": "uploading"},
              ":reason": {"S": reason} if reason else {"NULL": True},
              ":ocr": {"S": json.dumps(ocr)} if ocr else {"NULL": True},
              ":face": {"S": json.dumps(face)} if face else {"NULL": True},
              ":at": {"S": datetime.now(UTC).isoformat()}}
    key = {"pk": {"S": attempt.pk}, "sk": {"S": attempt.sk}}
    return {"Update": {"TableName": ddb.table_name(KycAttempt), "Key": key,
                       "UpdateExpression": "SET #status = :status, #reason = :reason, #ocr = :ocr, #face = :face, "
                                           "finished_at = :at REMOVE expires_at",
                       "ConditionExpression": "#status = :uploading",
                       "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}}


def finish_kyc(attempt: KycAttempt, status: str, reason: str | None, ocr: dict[str, Any] | None,
               face: dict[str, Any] | None) -> None:
    update = finish_kyc_item(attempt, status, reason, ocr, face)["Update"]
    try:
        ddb.client().update_item(**update)
    except ddb.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise


def uploaded(bucket: str, key: str) -> bool:
    from bank_common import aws

    try:
        aws.client("s3").head_object(Bucket=bucket, Key=key)
    except ddb.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True
