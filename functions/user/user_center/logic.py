"""Business rules of the user center: registration, and the internal operations for other centers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from bank_common import client, config, ratelimit
from bank_common.errors import ApiError, BusinessRuleViolation, Conflict, NotFound
from bank_common.ratelimit import Hit, Rule
from bank_common.schema import canonical_mobile
from user_center import notifications, profile_events, store
from user_center.models import Consent, Customer
from user_center.schemas import AgreementsOut, AgreementVersionOut, RegisterIn

RATE_TABLE = "CUSTOMER_DATA_TABLE"
DOCUMENTS = ("privacy_policy", "service_agreement")


def agreements() -> AgreementsOut:
    """The current versions of the documents a customer accepts at registration (configuration)."""
    base = config.env("AGREEMENTS_BASE_URL", "https://bank.example/agreements")
    privacy, service = config.env("PRIVACY_POLICY_VERSION"), config.env("SERVICE_AGREEMENT_VERSION")
    return AgreementsOut(
        privacy_policy=AgreementVersionOut(version=privacy, url=f"{base}/privacy-policy/{privacy}"),
        service_agreement=AgreementVersionOut(version=service, url=f"{base}/service-agreement/{service}"))


class ConsentOutdated(BusinessRuleViolation):
    code = "CONSENT_VERSION_OUTDATED"
    message = "Accept the current privacy policy and service agreement (GET /v1/user/agreements)."


def register_rules() -> tuple[Rule, Rule]:
    return (Rule("register-mobile", 10, seconds=600),
            Rule("register-ip", int(config.env("REGISTER_IP_LIMIT_PER_10MIN", "20")), seconds=600))


def register(body: RegisterIn, channel: str, fingerprint: str, source_ip: str) -> str:
    """Register a customer whose mobile number a texted code proved: claim the number (customer pending,
    consents recorded), have the authentication center store the password and bind the device, then make
    the customer active at KYC level L1.

    The code is checked first (by the authentication center, which uses it up), so nobody can hold a number
    they cannot receive texts on. The two centers share no transaction, so registration converges instead
    of undoing: when the credential call has no answer the customer stays pending (503); the same request
    again presents the same, used, code, which the auth center confirms was right — accepted only to finish
    the pending registration that code started. A fresh code for the number may finish a pending
    registration too. Nothing is ever deleted.
    """
    mobile = canonical_mobile(body.mobile)
    per_mobile, per_ip = register_rules()
    ratelimit.check(RATE_TABLE, [Hit(per_mobile, mobile), Hit(per_ip, source_ip)])
    current = agreements()
    if (body.consents.privacy_policy, body.consents.service_agreement) != \
            (current.privacy_policy.version, current.service_agreement.version):
        raise ConsentOutdated(details={"privacy_policy": current.privacy_policy.version,
                                       "service_agreement": current.service_agreement.version})
    existing = store.claimant(mobile)
    if existing is not None and existing.status != "pending":
        raise Conflict("This mobile number is already registered.", code="MOBILE_ALREADY_REGISTERED")
    verified = client.call("auth", "verify_otp", {"challenge_id": body.otp.challenge_id, "code": body.otp.code,
                                                  "purpose": "register", "mobile": mobile})
    fresh = bool(verified.get("first_use"))
    customer, taking_over = _pending(body, mobile, channel, source_ip, fresh)
    device = {"fingerprint": fingerprint, "platform": body.device.platform if body.device else "",
              "model": body.device.model if body.device else "", "channel": channel} if fingerprint else None
    try:
        client.call("auth", "create_credential", {"login": f"mobile:{mobile}", "subject": customer.customer_id,
                                                  "password": body.password, "device": device})
    except ApiError as exc:
        if exc.code == "LOGIN_TAKEN":  # another registration of this number, with another password, got there
            raise Conflict("This mobile number is being registered by another request.",
                           code="REGISTRATION_IN_PROGRESS") from exc
        raise
    if taking_over:  # a fresh code and a stored password: this registration is now the pending one's
        store.take_over(customer, body.otp.challenge_id)
    if store.activate(customer):
        notifications.enqueue(customer.customer_id, "welcome")
        profile_events.profile_changed(str(customer.customer_id))
    return str(customer.customer_id)


def _pending(body: RegisterIn, mobile: str, channel: str, source_ip: str, fresh: bool) -> tuple[Customer, bool]:
    """The pending customer this registration finishes: a new one, or the unfinished one of this number
    (which a used code may only finish if it started it; a fresh code may take it over once its password is
    stored), and whether it is taken over."""
    challenge_id = body.otp.challenge_id
    now = datetime.now(UTC).isoformat()
    customer = Customer(f"CUST#c{uuid.uuid4().hex[:20]}", mobile=mobile, status="pending", kyc_level="none",
                        registration_challenge=challenge_id, login_methods=1, password_login=True, created_at=now)
    customer.customer_id = customer.pk.removeprefix("CUST#")
    in_progress = Conflict("This mobile number is being registered by another request.",
                           code="REGISTRATION_IN_PROGRESS")
    if fresh:
        consents = [Consent(customer.pk, f"CONSENT#{doc}#{version}", document=doc, version=version,
                            accepted_at=now, channel=channel, source_ip=source_ip)
                    for doc, version in (("privacy_policy", body.consents.privacy_policy),
                                         ("service_agreement", body.consents.service_agreement))]
        try:
            store.create_pending(customer, consents)
            return customer, False
        except store.MobileTaken:
            pass
    existing = store.claimant(mobile)
    if existing is None:
        raise in_progress  # the code was used a moment ago by a registration still claiming the number
    if existing.status != "pending":
        raise Conflict("This mobile number is already registered.", code="MOBILE_ALREADY_REGISTERED")
    if existing.registration_challenge == challenge_id:
        return existing, False
    if not fresh:
        raise in_progress  # a used code of another attempt cannot finish this one
    return existing, True


def get_customer(payload: dict[str, Any]) -> dict[str, Any]:
    """Internal operation for other centers: the customer's status and KYC level (no PII)."""
    customer = store.get_customer(str(payload.get("customer_id", "")))
    if customer is None:
        raise NotFound("No such customer.", code="CUSTOMER_NOT_FOUND")
    return {"customer_id": customer.customer_id, "status": customer.status, "kyc_level": customer.kyc_level}
