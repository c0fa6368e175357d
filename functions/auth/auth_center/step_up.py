"""Step-up challenges: the authentication center's side of bank_common.stepup.

A challenge names one exact request (its canonical hash), the caller's session and device; a code texted
to the customer's registered mobile satisfies it once; the answer is a short-lived step-up token that only
that request, from that device and session, accepts — once (the money transaction consumes it).
"""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime

from auth_center import otp, store
from auth_center.models import StepUpChallenge
from auth_center.schemas import StepUpIn, StepUpOut, StepUpTokenOut
from bank_common import config, limits, ratelimit, stepup
from bank_common.errors import InvalidCredentials, NotFound
from bank_common.principal import Principal
from bank_common.ratelimit import Hit, Rule


class StepUpNotFound(NotFound):
    code, message = "STEP_UP_NOT_FOUND", "No such step-up challenge for this session and device."


def create(principal: Principal, body: StepUpIn, source_ip: str) -> StepUpOut:
    per_customer = Rule("step-up-customer", int(config.env("STEP_UP_LIMIT_PER_10MIN", "10")), seconds=600)
    ratelimit.check(otp.RATE_TABLE, [Hit(per_customer, principal.subject)])
    mobile = store.contact(principal.subject)
    if mobile is None:
        raise InvalidCredentials()
    hashed = request_hash(body)
    issued = otp.issue("step_up", mobile, subject=principal.subject, source_ip=source_ip,
                       binding={"device": principal.device_id, "session": principal.session_id})
    challenge_id = "sup_" + secrets.token_urlsafe(18)
    now_ms = int(time.time() * 1000)
    store.save_challenge(StepUpChallenge(
        f"STEPUP#{challenge_id}", "-", challenge_id=challenge_id, subject=principal.subject,
        session_id=principal.session_id, device_id=principal.device_id, operation=body.operation,
        request_hash=hashed, otp_challenge=issued.challenge_id, status="open", created_ms=now_ms,
        expires_ms=now_ms + issued.expires_in * 1000,
        expires_at=datetime.fromtimestamp(now_ms // 1000 + issued.expires_in + 3600, UTC)))
    return StepUpOut(challenge_id=challenge_id, expires_in=issued.expires_in, methods=["otp"])


def request_hash(body: StepUpIn) -> str:
    """The hash of the exact request a challenge is for (bank_common.stepup's canonical form)."""
    if body.operation == stepup.LIMIT_RAISE:
        assert body.txn_type is not None and body.limits is not None  # StepUpIn checked it
        return stepup.limit_raise_hash(body.txn_type, limits.caps_values(body.limits))
    assert body.from_account is not None and body.to_account is not None and body.amount is not None
    return stepup.request_hash(body.operation, body.from_account, body.to_account, int(body.amount))


def verify(principal: Principal, challenge_id: str, code: str) -> StepUpTokenOut:
    """The code for a challenge of this caller's session and device; its step-up token, once."""
    challenge = store.step_up(challenge_id)
    if challenge is None or challenge.subject != principal.subject or challenge.device_id != principal.device_id \
            or challenge.session_id != principal.session_id:
        raise StepUpNotFound()  # another customer's (or another device's) challenge is not theirs to see
    otp.verify(challenge.otp_challenge, code, "step_up", subject=principal.subject,
               binding={"device": principal.device_id, "session": principal.session_id})
    if not store.satisfy_step_up(challenge_id):
        raise otp.OtpAlreadyUsed()
    token, ttl = stepup.issue(principal, challenge_id, challenge.operation, challenge.request_hash)
    return StepUpTokenOut(step_up_token=token, expires_in=ttl)
