"""One-time passwords: 6 digits by SMS, for registration, a new device's login, a password reset and step-up.

- Stored as an HMAC (a key derived from the center's secret in SSM) of the challenge id, purpose, mobile
  and code: a leaked table reveals no code, and a code only verifies the challenge it was made for.
- 5 minutes to live, 5 verification attempts (an atomic counter taken before the code is compared, so a
  crowd of guesses gets 5 comparisons, never more), single use (a conditional write).
- A 60 s cooldown between codes of one kind to one phone and a daily cap per phone, plus a cap per source IP
  (bank_common.ratelimit: atomic counters in this center's table).
- Delivered through an outbox: the challenge item holds the code sealed (AES-GCM) until the SMS sender
  function (app.send_otp_sms, fed by OtpQueue with just the challenge id) has texted it, then the sealed
  code is deleted. Nothing in DynamoDB or SQS ever holds a code in the clear, and a queue message
  redelivered after a success sends nothing twice.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auth_center import store
from auth_center.models import OtpChallenge
from bank_common import aws, config, crypto, obs, ratelimit
from bank_common.errors import ApiError, Conflict, Forbidden, Unauthorized
from bank_common.ratelimit import Hit, Rule

SECRET = ("AUTH_SECRET", "AUTH_SECRET_PARAM")
RATE_TABLE = "AUTH_TABLE"


def ttl_seconds() -> int:
    return int(config.env("OTP_TTL_SECONDS", "300"))


def max_attempts() -> int:
    return int(config.env("OTP_MAX_ATTEMPTS", "5"))


def resend_seconds() -> int:
    return int(config.env("OTP_RESEND_SECONDS", "60"))


def send_rules() -> tuple[Rule, Rule, Rule]:
    return (Rule("otp-resend", 1, seconds=resend_seconds(), cooldown=True),
            Rule("otp-daily", int(config.env("OTP_DAILY_CAP", "10")), daily=True),
            Rule("otp-ip", int(config.env("OTP_IP_LIMIT_PER_10MIN", "30")), seconds=600))


class OtpInvalid(Unauthorized):
    code, message = "OTP_INVALID", "The code is wrong, or not for this request."


class OtpExpired(Unauthorized):
    code, message = "OTP_EXPIRED", "The code has expired; ask for a new one."


class OtpTooManyAttempts(Forbidden):
    code, message = "OTP_TOO_MANY_ATTEMPTS", "Too many wrong codes; ask for a new one."


class OtpAlreadyUsed(Conflict):
    code, message = "OTP_ALREADY_USED", "This code was used already."


@dataclass(frozen=True)
class Issued:
    challenge_id: str
    expires_in: int
    resend_after: int


@dataclass(frozen=True)
class Verified:
    challenge: OtpChallenge
    first_use: bool  # False: the right code of a challenge used before (only registration accepts that)


def _key(purpose: str) -> bytes:
    return crypto.key(*SECRET, f"otp-{purpose}")


def _digest(challenge_id: str, purpose: str, mobile: str, code: str) -> str:
    return crypto.keyed_hash(_key("digest"), challenge_id, purpose, mobile, code)


def issue(purpose: str, mobile: str, *, subject: str = "", binding: dict[str, str] | None = None,
          source_ip: str = "", deliver: bool = True, now: float | None = None) -> Issued:
    """Make a code for this purpose and phone and queue its SMS (unless `deliver` is False: a reset for a
    number nobody registered is answered alike but texts nobody). 429 within the cooldown or over a cap."""
    now = time.time() if now is None else now
    resend, daily, per_ip = send_rules()
    # The cooldown is per purpose (a resend of the same code's kind); the daily cap counts every code to the phone.
    ratelimit.check(RATE_TABLE, [Hit(resend, f"{mobile}#{purpose}"), Hit(daily, mobile), Hit(per_ip, source_ip)], now)
    challenge_id = "otp_" + secrets.token_urlsafe(18)
    code = f"{secrets.randbelow(1_000_000):06d}"
    now_ms, ttl = int(now * 1000), ttl_seconds()
    challenge = OtpChallenge(
        f"OTP#{challenge_id}", "-", challenge_id=challenge_id, purpose=purpose, mobile=mobile, subject=subject,
        digest=_digest(challenge_id, purpose, mobile, code), attempts=0, created_ms=now_ms,
        expires_ms=now_ms + ttl * 1000, delivery="pending" if deliver else "suppressed",
        sealed=crypto.seal(_key("seal"), code, challenge_id) if deliver else None,
        binding=json.dumps(binding or {}, sort_keys=True),
        expires_at=datetime.fromtimestamp(int(now) + ttl + 3600, UTC))
    store.save_challenge(challenge)
    if deliver:
        _enqueue(challenge_id)
    return Issued(challenge_id, ttl, resend.seconds)


def _enqueue(challenge_id: str) -> None:
    try:
        aws.client("sqs").send_message(QueueUrl=config.env("OTP_QUEUE_URL"),
                                       MessageBody=json.dumps({"challenge_id": challenge_id}))
    except Exception as exc:  # the challenge exists but its SMS will not come: say so, the client asks again
        obs.log().exception("otp not queued")
        obs.emit_metric("OtpEnqueueFailed")
        raise ApiError("The code could not be sent; try again shortly.", code="OTP_NOT_SENT", status=503,
                       headers={"Retry-After": "5"}) from exc


def verify(challenge_id: str, code: str, purpose: str, *, mobile: str | None = None, subject: str | None = None,
           binding: dict[str, str] | None = None, allow_used: bool = False, now: float | None = None) -> Verified:
    """Check a code for a purpose (and the phone, subject and binding it was made for). Every call takes
    one of the challenge's attempts first, whatever it brings."""
    now_ms = int((time.time() if now is None else now) * 1000)
    applied, challenge = store.take_otp_attempt(challenge_id, now_ms, max_attempts())
    if challenge is None:
        raise OtpInvalid()
    if not applied:
        if int(challenge.expires_ms) <= now_ms:
            raise OtpExpired()
        raise OtpTooManyAttempts()
    matches = (challenge.purpose == purpose and (mobile is None or challenge.mobile == mobile)
               and (subject is None or challenge.subject == subject)
               and _binds(challenge, binding or {}))
    if not matches or not crypto.same(challenge.digest, _digest(challenge_id, purpose, challenge.mobile, code)):
        raise OtpInvalid()
    if challenge.used_at is not None or not store.use_otp(challenge_id, now_ms):
        if allow_used:
            return Verified(challenge, first_use=False)
        raise OtpAlreadyUsed()
    return Verified(challenge, first_use=True)


def _binds(challenge: OtpChallenge, binding: dict[str, str]) -> bool:
    """The verifying request matches what the code was made for (the same device and channel)."""
    stored = json.loads(challenge.binding or "{}")
    return all(stored.get(name) == value for name, value in binding.items())


def send_sms(message: dict[str, Any]) -> None:
    """SMS sender (OtpQueue → app.send_otp_sms): text the code of one challenge, once. Raises to have SQS
    retry a failed send (then dead-letter it)."""
    from bank_common import sms

    challenge = store.challenge(str(message.get("challenge_id", "")))
    if challenge is None or challenge.delivery != "pending" or not challenge.sealed:
        return  # unknown, or delivered already (a redelivered message)
    if int(challenge.expires_ms) <= int(time.time() * 1000):
        store.delivered(challenge.challenge_id, "expired")
        return
    code = crypto.unseal(_key("seal"), challenge.sealed, challenge.challenge_id)
    minutes = str(max(1, ttl_seconds() // 60))
    sms.gateway().send(challenge.mobile, sms.SmsMessage.of("otp", code=code, minutes=minutes,
                                                           purpose=challenge.purpose))
    store.delivered(challenge.challenge_id, "sent")
