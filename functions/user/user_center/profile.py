"""Profile, notification preferences and addresses of the calling customer (always the caller's own: every
key starts with the caller's id, so another customer's address id simply finds nothing)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from bank_common import pii
from bank_common.errors import BusinessRuleViolation, Conflict, NotFound
from user_center import profile_events, store
from user_center.models import Address, Customer, Preferences
from user_center.schemas import AddressIn, AddressListOut, AddressOut, PreferencesIn, PreferencesOut, ProfileOut

MAX_ADDRESSES = 10
DEFAULT_PREFERENCES = {"channels": {"sms": True, "app_push": True, "wechat": False, "email": False},
                       "topics": {"transactions": True, "security": True, "marketing": False}}


class CustomerNotFound(NotFound):
    code, message = "CUSTOMER_NOT_FOUND", "No such customer."


def mask_mobile(mobile: str) -> str:
    return f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) == 11 else pii.mask_value(mobile)


def mask_id_number(number: str | None) -> str | None:
    return f"{number[:3]}{'*' * (len(number) - 7)}{number[-4:]}" if number else None


def mask_name(name: str | None) -> str | None:
    return f"{name[0]}{'*' * (len(name) - 1)}" if name else None


def mask_email(email: str | None) -> str | None:
    if not email:
        return None
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _customer(customer_id: str) -> Customer:
    found = store.get_customer(customer_id)
    if found is None:
        raise CustomerNotFound()
    return found


def profile(customer_id: str) -> ProfileOut:
    customer = _customer(customer_id)
    risk = store.current_assessment(customer_id)
    risk_live = risk is not None and date.fromisoformat(risk.expires_on) >= datetime.now(UTC).date()
    return ProfileOut(customer_id=customer.customer_id, status=customer.status, kyc_level=customer.kyc_level,
                      mobile=mask_mobile(customer.mobile), name=mask_name(customer.name),
                      id_number=mask_id_number(customer.id_number), id_expiry=customer.id_expiry,
                      nickname=customer.nickname, email=mask_email(customer.email),
                      risk_level=risk.level if risk and risk_live else None,
                      risk_expires_on=risk.expires_on if risk else None, created_at=customer.created_at)


def update_profile(customer_id: str, nickname: str | None, email: str | None) -> ProfileOut:
    customer = _customer(customer_id)
    store.update_contact_details(customer, nickname, email)
    return profile(customer_id)


def preferences(customer_id: str) -> PreferencesOut:
    found = store.preferences(customer_id)
    if found is None:
        return PreferencesOut(channels=dict(DEFAULT_PREFERENCES["channels"]),
                              topics=dict(DEFAULT_PREFERENCES["topics"]), updated_at=None)
    return PreferencesOut(channels=dict(found.channels), topics=dict(found.topics), updated_at=found.updated_at)


class SecurityNoticesRequired(BusinessRuleViolation):
    code = "SECURITY_NOTIFICATIONS_REQUIRED"
    message = "Security notifications (new devices, password changes) cannot be turned off, nor every channel."


def set_preferences(customer_id: str, body: PreferencesIn) -> PreferencesOut:
    channels = {"sms": body.channels.sms, "app_push": body.channels.app_push, "wechat": body.channels.wechat,
                "email": body.channels.email}
    topics = {"transactions": body.topics.transactions, "security": body.topics.security,
              "marketing": body.topics.marketing}
    if not topics["security"] or not any(channels.values()):
        raise SecurityNoticesRequired()
    now = datetime.now(UTC).isoformat()
    store.save_preferences(Preferences(store.customer_key(customer_id), "PREFS", channels=channels, topics=topics,
                                       updated_at=now))
    profile_events.profile_changed(customer_id)  # opted_out: marketing topic off or app push off
    return PreferencesOut(channels=channels, topics=topics, updated_at=now)


def _address_out(address: Address) -> AddressOut:
    return AddressOut(address_id=address.address_id, recipient=address.recipient, phone=mask_mobile(address.phone),
                      region=address.region, line=address.line, postcode=address.postcode, label=address.label,
                      is_default=bool(address.is_default), updated_at=address.updated_at)


def addresses(customer_id: str) -> AddressListOut:
    found = sorted(store.addresses(customer_id), key=lambda a: (not a.is_default, a.created_at))
    return AddressListOut(items=[_address_out(a) for a in found], limit=MAX_ADDRESSES)


class AddressNotFound(NotFound):
    code, message = "ADDRESS_NOT_FOUND", "No such address of yours."


def add_address(customer_id: str, body: AddressIn) -> AddressOut:
    existing = store.addresses(customer_id)
    if len(existing) >= MAX_ADDRESSES:
        raise Conflict(f"At most {MAX_ADDRESSES} addresses; delete one first.", code="ADDRESS_LIMIT_REACHED")
    now = datetime.now(UTC).isoformat()
    address_id = "ad_" + uuid.uuid4().hex[:16]
    address = Address(store.customer_key(customer_id), f"ADDR#{address_id}", address_id=address_id,
                      label=body.label, recipient=body.recipient, phone=body.phone.removeprefix("+86"),
                      region=body.region, line=body.line, postcode=body.postcode or "",
                      is_default=body.is_default or not existing, created_at=now, updated_at=now)
    store.save_address(address, [a for a in existing if a.is_default] if address.is_default else [])
    return _address_out(address)


def update_address(customer_id: str, address_id: str, body: AddressIn) -> AddressOut:
    current = store.address(customer_id, address_id)
    if current is None:
        raise AddressNotFound()
    now = datetime.now(UTC).isoformat()
    updated = Address(current.pk, current.sk, address_id=address_id, label=body.label, recipient=body.recipient,
                      phone=body.phone.removeprefix("+86"), region=body.region, line=body.line,
                      postcode=body.postcode or "", is_default=body.is_default or bool(current.is_default),
                      created_at=current.created_at, updated_at=now)
    others = [a for a in store.addresses(customer_id) if a.is_default and a.address_id != address_id]
    store.save_address(updated, others if updated.is_default else [], must_exist=True)
    return _address_out(updated)


def delete_address(customer_id: str, address_id: str) -> None:
    if not store.delete_address(customer_id, address_id):
        raise AddressNotFound()
