"""Identity verification (KYC) to level L2: ID card images and a selfie uploaded straight to S3 through
presigned PUT URLs, the card read by OCR, its number checked (GB 11643 check character, birth date) and its
validity, a live face matched to it against a threshold, and one ID number → one customer.

Levels: none < L1 (the mobile verified by a texted code at registration) < L2 (this). The account center
gates account types on the level (the user center's internal `get_customer`).

Every step's refusal is a 422 with its own code, recorded on the attempt (KYC_DOCUMENT_UNREADABLE,
KYC_ID_NUMBER_INVALID, KYC_ID_EXPIRED, KYC_LIVENESS_FAILED, KYC_FACE_MISMATCH); an ID number already
verified for another customer is 409 ID_NUMBER_TAKEN, decided by the claim's conditional put in the same
transaction that raises the level.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from bank_common import aws, config, crypto, ddb, ratelimit
from bank_common.ddb import s
from bank_common.errors import BusinessRuleViolation, Conflict, NotFound
from bank_common.ratelimit import Hit, Rule
from user_center import idcard, kyc_adapters, profile_events, store
from user_center.identities import SECRET
from user_center.kyc_adapters import IdFields, S3Ref
from user_center.models import Claim, Customer, KycAttempt
from user_center.profile import mask_id_number, mask_name
from user_center.schemas import KycAttemptOut, KycOut, KycStartOut, UploadOut

PARTS = ("id_front", "id_back", "selfie")
UPLOAD_SECONDS = 900


class KycRefused(BusinessRuleViolation):
    code, message = "KYC_REFUSED", "The identity verification did not pass."


class KycNotFound(NotFound):
    code, message = "KYC_NOT_FOUND", "No such identity verification of yours."


def threshold() -> float:
    return float(config.env("FACE_MATCH_THRESHOLD", "90"))


def liveness_threshold() -> float:
    return float(config.env("LIVENESS_THRESHOLD", "90"))


def _keys(customer_id: str, kyc_id: str) -> dict[str, S3Ref]:
    bucket = config.env("KYC_BUCKET")
    return {part: S3Ref(bucket, f"kyc/{customer_id}/{kyc_id}/{part}") for part in PARTS}


def start(customer_id: str) -> KycStartOut:
    ratelimit.check("CUSTOMER_DATA_TABLE", [Hit(Rule("kyc-start", 10, daily=True), customer_id)])
    customer = store.get_customer(customer_id)
    if customer is None or customer.status != "active":
        raise KycNotFound("No such customer.", code="CUSTOMER_NOT_FOUND")
    if customer.kyc_level == "L2":
        raise Conflict("Your identity is verified already.", code="KYC_ALREADY_PASSED")
    kyc_id = "kyc_" + uuid.uuid4().hex[:16]
    refs = _keys(customer_id, kyc_id)
    s3 = aws.client("s3")
    uploads = [UploadOut(part=part, method="PUT", expires_in=UPLOAD_SECONDS,
                         url=s3.generate_presigned_url("put_object", ExpiresIn=UPLOAD_SECONDS,
                                                       Params={"Bucket": ref.bucket, "Key": ref.key}))
               for part, ref in refs.items()]
    session = kyc_adapters.face().start(kyc_id, S3Ref(config.env("KYC_BUCKET"),
                                                      f"kyc/{customer_id}/{kyc_id}/liveness/"))
    now = datetime.now(UTC)
    store.save_kyc(KycAttempt(store.customer_key(customer_id), f"KYC#{kyc_id}", kyc_id=kyc_id, status="uploading",
                              liveness_session=session, created_at=now.isoformat(),
                              expires_at=now + timedelta(days=30)))
    return KycStartOut(kyc_id=kyc_id, uploads=uploads, liveness_session=session)


def _fail(attempt: KycAttempt, code: str, message: str, fields: IdFields | None = None,
          face: dict[str, Any] | None = None) -> KycRefused:
    store.finish_kyc(attempt, "failed", code, _evidence(fields), face)
    return KycRefused(message, code=code)


def _evidence(fields: IdFields | None) -> dict[str, Any] | None:
    """What the attempt keeps of the card: masked (the customer record holds the verified values)."""
    if fields is None:
        return None
    return {"name": mask_name(fields.name), "id_number": mask_id_number(fields.id_number), "expiry": fields.expiry}


def verify(customer_id: str, kyc_id: str) -> KycOut:
    attempt = store.kyc_attempt(customer_id, kyc_id)
    if attempt is None:
        raise KycNotFound()
    if attempt.status != "uploading":
        raise Conflict("This verification is finished; start another.", code="KYC_ALREADY_FINISHED")
    refs = _keys(customer_id, kyc_id)
    missing = [part for part, ref in refs.items() if not store.uploaded(ref.bucket, ref.key)]
    if missing:
        raise BusinessRuleViolation("Upload every image first.", code="KYC_UPLOAD_MISSING",
                                    details={"missing": missing})
    try:
        fields = kyc_adapters.ocr().read(refs["id_front"], refs["id_back"])
    except kyc_adapters.Unreadable:
        raise _fail(attempt, "KYC_DOCUMENT_UNREADABLE", "The ID card could not be read; take clearer photos.") \
            from None
    try:
        number = idcard.parse(fields.id_number)
    except idcard.InvalidIdNumber:
        raise _fail(attempt, "KYC_ID_NUMBER_INVALID", "The ID number is not valid.", fields) from None
    if fields.birth_date and _date(fields.birth_date) not in (None, number.birth_date):
        raise _fail(attempt, "KYC_ID_NUMBER_INVALID", "The birth date does not match the ID number.", fields)
    try:
        card_expiry = idcard.expiry(fields.expiry)
    except ValueError:
        raise _fail(attempt, "KYC_DOCUMENT_UNREADABLE", "The card's validity could not be read.", fields) from None
    if not idcard.valid_on(card_expiry):
        raise _fail(attempt, "KYC_ID_EXPIRED", "The ID card has expired.", fields)
    face = kyc_adapters.face().verify(attempt.liveness_session, refs["selfie"], refs["id_front"], fields)
    evidence = {"live": face.live, "liveness": face.liveness, "similarity": face.similarity,
                "threshold": threshold()}
    if not face.live or face.liveness < liveness_threshold():
        raise _fail(attempt, "KYC_LIVENESS_FAILED", "The liveness check did not pass; try again.", fields, evidence)
    if face.similarity < threshold():
        raise _fail(attempt, "KYC_FACE_MISMATCH", "The face does not match the ID card.", fields, evidence)
    try:
        _raise_level(customer_id, attempt, fields, number.value, card_expiry, evidence)
    except ddb.TransactionCancelled as exc:
        if exc.conflict:
            raise
        store.finish_kyc(attempt, "failed", "ID_NUMBER_TAKEN", _evidence(fields), evidence)
        raise Conflict("This ID number is verified for another customer.", code="ID_NUMBER_TAKEN") from exc
    profile_events.kyc_passed(customer_id)  # once: a second verify of this attempt is KYC_ALREADY_FINISHED
    return status(customer_id)


def _date(text: str) -> date | None:
    digits = [int(p) for p in text.replace("-", "/").replace(".", "/").split("/") if p.isdigit()]
    try:
        return date(*digits[:3]) if len(digits) >= 3 else None
    except ValueError:
        return None


def _raise_level(customer_id: str, attempt: KycAttempt, fields: IdFields, id_number: str,
                 card_expiry: date | None, evidence: dict[str, Any]) -> None:
    """The ID number's claim (only if free, or already this customer's), the customer at L2 with the verified
    identity, and the attempt passed: one transaction."""
    claim_key = f"IDCARD#{crypto.keyed_hash(crypto.key(*SECRET, 'id-number'), id_number)}"
    now = datetime.now(UTC).isoformat()
    claim = Claim(claim_key, customer_id=customer_id, created_at=now)
    ddb.transact_write([
        {"Put": {"TableName": ddb.table_name(Claim), "Item": claim.serialize(),
                 "ConditionExpression": "attribute_not_exists(pk) OR customer_id = :me",
                 "ExpressionAttributeValues": {":me": s(customer_id)}}},
        {"Update": {"TableName": ddb.table_name(Customer), "Key": {"pk": s(store.customer_key(customer_id))},
                    "UpdateExpression": "SET kyc_level = :l2, #name = :name, id_number = :id, id_expiry = :exp",
                    "ConditionExpression": "#status = :active",
                    "ExpressionAttributeNames": {"#name": "name", "#status": "status"},
                    "ExpressionAttributeValues": {":l2": s("L2"), ":name": s(fields.name), ":id": s(id_number),
                                                  ":exp": s(card_expiry.isoformat() if card_expiry else "long-term"),
                                                  ":active": s("active")}}},
        store.finish_kyc_item(attempt, "passed", None, _evidence(fields), evidence),
    ])


def status(customer_id: str) -> KycOut:
    customer = store.get_customer(customer_id)
    if customer is None:
        raise KycNotFound("No such customer.", code="CUSTOMER_NOT_FOUND")
    attempts = sorted(store.kyc_attempts(customer_id), key=lambda a: a.created_at)
    latest = attempts[-1] if attempts else None
    return KycOut(kyc_level=customer.kyc_level, latest=KycAttemptOut(
        kyc_id=latest.kyc_id, status=latest.status, reason=latest.reason, created_at=latest.created_at,
        finished_at=latest.finished_at) if latest else None)
