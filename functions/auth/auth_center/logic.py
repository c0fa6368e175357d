"""Business rules of the authentication center: credentials, logins (password, new device, channel),
passwords, staff provisioning. Sessions, one-time passwords and devices have their own modules."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from auth_center import devices, otp, sessions, store
from auth_center.models import Credential
from auth_center.schemas import DeviceInfo, StaffDeprovisionIn, StaffProvisionIn, TokenOut
from bank_common import config, pii, ratelimit, schema
from bank_common.errors import ApiError, Conflict, Forbidden, InvalidCredentials
from bank_common.principal import Principal
from bank_common.ratelimit import Hit, Rule

MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60
CUSTOMER_LOGIN, STAFF_LOGIN = "mobile:", "staff:"


@cache
def hasher() -> PasswordHasher:
    # argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1): ~25 ms per check here instead of
    # ~125 ms for argon2-cffi's default profile (docs/decisions/0007). Older hashes are upgraded at login.
    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def _dummy_hash() -> str:
    return hasher().hash("not-a-real-password-0")


def login_rules() -> tuple[Rule, Rule]:
    """Per source IP before anything (password spraying across many phones), per login after the lock
    check (the lockout itself caps wrong passwords at 5; this caps every kind of attempt)."""
    return (Rule("login-ip", int(config.env("LOGIN_IP_LIMIT_PER_10MIN", "100")), seconds=600),
            Rule("login-account", int(config.env("LOGIN_ACCOUNT_LIMIT_PER_10MIN", "20")), seconds=600))


class DeviceVerificationRequired(Forbidden):
    code = "DEVICE_VERIFICATION_REQUIRED"
    message = ("This device is not bound to you yet: a code was texted to your registered mobile; send it to "
               "POST /v1/auth/login/device with the challenge id.")


class LoginLocked(Forbidden):
    code = "LOGIN_LOCKED"

    def __init__(self, until: int, now: int) -> None:
        unlock_at = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        super().__init__(f"Too many failed logins; try again after {unlock_at}.",
                         details={"unlock_at": unlock_at}, headers={"Retry-After": str(max(1, until - now))})


@dataclass(frozen=True)
class Client:
    """Where a login comes from: channel, the device's fingerprint and what it says it is, the source IP."""

    channel: str
    fingerprint: str
    device: DeviceInfo | None = None
    source_ip: str = ""

    @property
    def platform(self) -> str:
        return self.device.platform if self.device else ""

    @property
    def model(self) -> str:
        return self.device.model if self.device else ""


# --- credentials --------------------------------------------------------------------------------------------

def create_credential(payload: dict[str, Any]) -> dict[str, Any]:
    """Internal operation for the user center's registration: a customer's password credential, the mobile
    one-time passwords go to, and the registering device bound (its OTP proved the phone).

    Idempotent for the same registration, so a registration whose call timed out converges on retry: when
    the login already holds a credential for the same customer and the same password, that is a success.
    Staff credentials are not made here (ProvisionStaffFunction, ops only), and IAM would refuse the write.
    """
    login, subject, password = str(payload.get("login", "")), str(payload.get("subject", "")), \
        str(payload.get("password", ""))
    if not login.startswith(CUSTOMER_LOGIN) or payload.get("roles"):
        raise Forbidden("Only customer credentials are created here.", code="STAFF_PROVISIONING_ONLY")
    if not subject or not password:
        raise ApiError("login, subject and password are required.", code="VALIDATION_FAILED")
    credential = Credential(login, subject=subject, kind="customer", password_hash=hasher().hash(password),
                            failed_attempts=0, locked_until=0, lock_count=0, status="active",
                            created_at=datetime.now(UTC).isoformat())
    try:
        store.create_credential(credential)
    except store.LoginTaken as exc:
        existing = store.get_credential(login)
        if existing is None or existing.subject != subject or not _verify(existing.password_hash, password):
            raise Conflict("This login already has a credential.", code="LOGIN_TAKEN") from exc
    store.save_contact(subject, login.removeprefix(CUSTOMER_LOGIN))
    device = payload.get("device") or {}
    if device.get("fingerprint"):
        devices.bind(subject, str(device["fingerprint"]), str(device.get("platform") or ""),
                     str(device.get("model") or ""), str(device.get("channel") or ""))
    return {"login": login, "subject": subject}


def verify_otp(payload: dict[str, Any]) -> dict[str, Any]:
    """Internal operation for the user center's registration: check (and use) a registration code for this
    mobile. A code already used answers `first_use: false` only when it is the right one (a registration
    retried after a lost answer presents its code again; the user center decides what that may finish)."""
    result = otp.verify(str(payload.get("challenge_id", "")), str(payload.get("code", "")),
                        str(payload.get("purpose", "")), mobile=str(payload.get("mobile", "")), allow_used=True)
    return {"challenge_id": result.challenge.challenge_id, "first_use": result.first_use}


def provision_staff(payload: dict[str, Any]) -> dict[str, Any]:
    """Ops-only operation (ProvisionStaffFunction, invoked directly by operations): a staff login with roles."""
    body = schema.decode(payload, StaffProvisionIn)
    credential = Credential(f"{STAFF_LOGIN}{body.username}", subject=body.subject or f"s-{body.username}",
                            kind="staff", password_hash=hasher().hash(body.password), roles=set(body.roles),
                            failed_attempts=0, locked_until=0, lock_count=0, status="active",
                            created_at=datetime.now(UTC).isoformat())
    try:
        store.create_credential(credential)
    except store.LoginTaken as exc:
        raise Conflict("This staff login already exists.", code="LOGIN_TAKEN") from exc
    return {"username": body.username, "subject": credential.subject, "roles": sorted(body.roles)}


def deprovision_staff(payload: dict[str, Any]) -> dict[str, Any]:
    """Ops-only operation (DeprovisionStaffFunction): a member of staff left. The login is disabled (no new
    sessions) and every session is revoked: refresh tokens at once, access tokens within the authorizer's
    cache time."""
    body = schema.decode(payload, StaffDeprovisionIn)
    try:
        credential = store.disable_credential(f"{STAFF_LOGIN}{body.username}")
    except store.UnknownLogin:
        raise ApiError("No such staff login.", code="STAFF_NOT_FOUND", status=404) from None
    sessions.revoke_all(credential.subject)
    return {"username": body.username, "subject": credential.subject, "status": "disabled"}


# --- logins -------------------------------------------------------------------------------------------------

def login(login_name: str, password: str, kind: str, client_info: Client) -> TokenOut:
    """Check a password under the lockout rule: at most MAX_FAILURES attempts are ever checked before the
    login locks, however many arrive at once, and a locked login is refused even with the right password.
    Then the device: a customer's unbound device needs a code (DEVICE_VERIFICATION_REQUIRED)."""
    now = int(time.time())
    per_ip, per_login = login_rules()
    ratelimit.check(otp.RATE_TABLE, [Hit(per_ip, client_info.source_ip)])
    try:
        attempt = store.take_attempt(login_name, now, MAX_FAILURES, LOCK_SECONDS)
    except store.UnknownLogin:
        _verify(_dummy_hash(), password)  # same work as a real check: no user enumeration by timing
        raise InvalidCredentials() from None
    except store.Locked as locked:
        raise LoginLocked(locked.until, now) from None
    ratelimit.check(otp.RATE_TABLE, [Hit(per_login, login_name)])
    credential = attempt.credential
    if credential.kind != kind or not _verify(credential.password_hash, password) or credential.status != "active":
        if attempt.locked_until:
            raise LoginLocked(attempt.locked_until, now)
        raise InvalidCredentials()
    rehashed = hasher().hash(password) if hasher().check_needs_rehash(credential.password_hash) else None
    store.record_success(credential, rehashed)
    if not client_info.fingerprint:
        raise devices.DeviceIdRequired()
    if kind == "staff":
        return sessions.start(Principal(subject=credential.subject, kind="staff",
                                        roles=tuple(sorted(credential.roles or ())), channel="",
                                        device_id=client_info.fingerprint, auth_level="L1"))
    return _customer_session(credential.subject, login_name.removeprefix(CUSTOMER_LOGIN), client_info)


def _customer_session(subject: str, mobile: str, client_info: Client) -> TokenOut:
    device_server_id = devices.server_id(client_info.fingerprint, client_info.platform)
    if not devices.is_bound(subject, device_server_id):
        issued = otp.issue("login_device", mobile, subject=subject, source_ip=client_info.source_ip,
                           binding={"fingerprint": client_info.fingerprint, "channel": client_info.channel,
                                    "platform": client_info.platform, "model": client_info.model})
        raise DeviceVerificationRequired(details={"challenge_id": issued.challenge_id,
                                                  "expires_in": issued.expires_in,
                                                  "sent_to": pii.mask_text(mobile)})
    return sessions.start(_customer(subject, client_info), device_server_id)


def _customer(subject: str, client_info: Client) -> Principal:
    return Principal(subject=subject, kind="customer", channel=client_info.channel,
                     device_id=client_info.fingerprint, auth_level="L1")


def verify_device_login(challenge_id: str, code: str, client_info: Client) -> TokenOut:
    """The second step of a login from a new device: the texted code binds the device, then the session
    starts as after any login."""
    verified = otp.verify(challenge_id, code, "login_device",
                          binding={"fingerprint": client_info.fingerprint, "channel": client_info.channel})
    bound = json.loads(verified.challenge.binding or "{}")
    subject = verified.challenge.subject
    device_server_id = devices.bind(subject, client_info.fingerprint, str(bound.get("platform") or ""),
                                    str(bound.get("model") or ""), client_info.channel)
    return sessions.start(_customer(subject, client_info), device_server_id)


def start_session(payload: dict[str, Any]) -> dict[str, Any]:
    """Internal operation for the user center's channel login: the customer it identified by a linked WeChat
    or Alipay identity gets a session under the same device rule as a password login (an unbound device
    needs a texted code: DEVICE_VERIFICATION_REQUIRED, whose details the user center passes on)."""
    subject = str(payload.get("customer_id", ""))
    device = payload.get("device") or {}
    info = DeviceInfo(platform=device["platform"], model=str(device.get("model") or "")) \
        if device.get("platform") else None
    client_info = Client(channel=str(payload.get("channel", "")), fingerprint=str(payload.get("fingerprint", "")),
                         device=info, source_ip=str(payload.get("source_ip", "")))
    mobile = store.contact(subject)
    if not subject or mobile is None:
        raise InvalidCredentials()
    if not client_info.fingerprint:
        raise devices.DeviceIdRequired()
    return schema.to_builtins(_customer_session(subject, mobile, client_info))


def set_password_login(payload: dict[str, Any]) -> dict[str, Any]:
    """Internal operation for the user center: the customer unlinked the password login (it stops working;
    a reset cannot bring it back) or added it back with a new password."""
    subject = str(payload.get("customer_id", ""))
    mobile = store.contact(subject)
    if not subject or mobile is None:
        raise InvalidCredentials()
    login_name = CUSTOMER_LOGIN + mobile
    if payload.get("enabled"):
        password = str(payload.get("password") or "")
        if not password:
            raise ApiError("A password is required.", code="VALIDATION_FAILED")
        store.set_password(login_name, hasher().hash(password), status="active")
    else:
        store.set_status(login_name, "unlinked")
    return {"customer_id": subject, "password_login": bool(payload.get("enabled"))}


class PasswordLoginUnlinked(Conflict):
    code = "PASSWORD_LOGIN_UNLINKED"
    message = "You removed the password login: log in with a linked channel and add a password there."


# --- passwords ----------------------------------------------------------------------------------------------

def change_password(principal: Principal, old_password: str, new_password: str) -> TokenOut:
    """A customer changes their password (knowing the current one, under the lockout rule). Every session,
    this one included, ends; the answer is a new session on this device."""
    mobile = store.contact(principal.subject)
    if mobile is None:
        raise InvalidCredentials()
    login_name = CUSTOMER_LOGIN + mobile
    now = int(time.time())
    try:
        attempt = store.take_attempt(login_name, now, MAX_FAILURES, LOCK_SECONDS)
    except store.Locked as locked:
        raise LoginLocked(locked.until, now) from None
    except store.UnknownLogin:
        raise InvalidCredentials() from None
    if attempt.credential.subject != principal.subject or not _verify(attempt.credential.password_hash, old_password):
        if attempt.locked_until:
            raise LoginLocked(attempt.locked_until, now)
        raise InvalidCredentials()
    store.set_password(login_name, hasher().hash(new_password))
    sessions.revoke_all(principal.subject)
    device_server_id = ""
    for device in store.devices(principal.subject):
        if devices.server_id(principal.device_id, device.platform) == device.device_id:
            device_server_id = device.device_id
    return sessions.start(principal, device_server_id)


def reset_password(mobile: str, challenge_id: str, code: str, new_password: str) -> None:
    """A forgotten password: the code texted for `password_reset` proves the phone. Every session ends."""
    otp.verify(challenge_id, code, "password_reset", mobile=mobile)
    credential = store.get_credential(CUSTOMER_LOGIN + mobile)
    if credential is None:
        raise otp.OtpInvalid()
    if credential.status == "unlinked":
        raise PasswordLoginUnlinked()
    store.set_password(credential.login, hasher().hash(new_password))
    sessions.revoke_all(credential.subject)


def send_otp(purpose: str, mobile: str, source_ip: str) -> otp.Issued:
    """A public code request (registration, password reset). A reset for a number with no login is answered
    the same way, but nothing is texted: the answer does not tell who is a customer."""
    deliver = purpose == "register" or store.get_credential(CUSTOMER_LOGIN + mobile) is not None
    return otp.issue(purpose, mobile, source_ip=source_ip, deliver=deliver)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
