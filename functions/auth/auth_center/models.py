"""pynamodb models of the authentication center's tables.

- CredentialsTable: one password credential per login (`mobile:<n>` customers, `staff:<username>` staff).
- SessionsTable: one item per refresh token ever issued, by the token's SHA-256 (the token is never stored).
- AuthTable (pk, sk): everything else, each kind under its own key prefix so IAM can grant a function only
  its kinds (`dynamodb:LeadingKeys`): revocation state `REVOKE#<subject>` (the authorizer's one read),
  per subject `SUBJ#<subject>` the contact, session families `FAM#<sid>`, bound devices `DEV#<id>` and
  their count `DEVICES`; one-time passwords `OTP#<id>`; step-up challenges `STEPUP#<id>` and the step-up
  tokens money operations have consumed `STEPUP_USED#<jti>` (bank_common.stepup).
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.models import Model

from bank_common.ddb import LazyTableMeta


class Credential(Model):
    """A password credential: login `mobile:<n>` for customers, `staff:<username>` for bank staff."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "CREDENTIALS_TABLE"

    login = UnicodeAttribute(hash_key=True)
    subject = UnicodeAttribute()
    kind = UnicodeAttribute()  # customer | staff
    password_hash = UnicodeAttribute()
    roles = UnicodeSetAttribute(null=True)
    status = UnicodeAttribute(default="active")  # active | disabled (a dismissed member of staff)
    failed_attempts = NumberAttribute(default=0)  # attempts in the current window (auth_center.store)
    locked_until = NumberAttribute(default=0)  # epoch seconds; the login is refused until then
    lock_count = NumberAttribute(default=0)  # locks since the last success: each one lasts twice as long
    created_at = UnicodeAttribute()


class Session(Model):
    """One refresh token of a session family, stored by the token's SHA-256. Each use marks it used and
    issues the next generation; presenting a used one again is reuse, and revokes the family."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "SESSIONS_TABLE"

    token_hash = UnicodeAttribute(hash_key=True)
    subject = UnicodeAttribute()
    kind = UnicodeAttribute()
    channel = UnicodeAttribute()
    device_id = UnicodeAttribute(default="")
    session_id = UnicodeAttribute(default="")  # the family
    generation = NumberAttribute(default=0)
    used_at = NumberAttribute(null=True)  # epoch ms when it was exchanged for the next generation
    created_at = UnicodeAttribute()
    expires_at = TTLAttribute()


class _AuthItem(Model):
    class Meta(metaclass=LazyTableMeta):
        table_env = "AUTH_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


class Contact(_AuthItem):
    """pk SUBJ#<customer>, sk CONTACT: where one-time passwords for this customer go."""

    mobile = UnicodeAttribute()


class Family(_AuthItem):
    """pk SUBJ#<subject>, sk FAM#<sid>: a session family (one login and every token refreshed from it)."""

    session_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    roles = UnicodeSetAttribute(null=True)
    channel = UnicodeAttribute()
    device_id = UnicodeAttribute()  # the X-Device-Id its tokens are bound to
    server_device_id = UnicodeAttribute(default="")  # the bound device it belongs to (customers)
    auth_level = UnicodeAttribute(default="L1")
    status = UnicodeAttribute(default="active")  # active | revoked
    generation = NumberAttribute(default=0)
    created_ms = NumberAttribute()
    expires_at = TTLAttribute()


class Device(_AuthItem):
    """pk SUBJ#<customer>, sk DEV#<server device id>: a device bound to the customer."""

    device_id = UnicodeAttribute()
    platform = UnicodeAttribute(default="")
    model = UnicodeAttribute(default="")
    bound_at = UnicodeAttribute()
    bound_channel = UnicodeAttribute(default="")
    last_seen_at = UnicodeAttribute(null=True)


class DeviceCount(_AuthItem):
    """pk SUBJ#<customer>, sk DEVICES: how many devices are bound (kept in the same transactions)."""

    bound = NumberAttribute(default=0)


class OtpChallenge(_AuthItem):
    """pk OTP#<challenge id>, sk "-": a one-time password, stored as an HMAC with a server secret.

    It is also the outbox of its own SMS: `sealed` holds the code encrypted (AES-GCM, a key derived from
    the same secret) until the SMS sender has delivered it, then it is removed; neither the table nor the
    queue ever holds a code in the clear."""

    challenge_id = UnicodeAttribute()
    purpose = UnicodeAttribute()  # register | login_device | password_reset | step_up
    mobile = UnicodeAttribute()
    subject = UnicodeAttribute(default="")
    digest = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    created_ms = NumberAttribute()
    expires_ms = NumberAttribute()
    used_at = NumberAttribute(null=True)
    delivery = UnicodeAttribute(default="pending")  # pending | sent | suppressed | expired
    sealed = UnicodeAttribute(null=True)
    binding = UnicodeAttribute(default="")  # JSON: what the verifying request must match (device, channel)
    expires_at = TTLAttribute()


class StepUpChallenge(_AuthItem):
    """pk STEPUP#<challenge id>, sk "-": a step-up for one exact request, from one device."""

    challenge_id = UnicodeAttribute()
    subject = UnicodeAttribute()
    session_id = UnicodeAttribute()
    device_id = UnicodeAttribute()
    operation = UnicodeAttribute()
    request_hash = UnicodeAttribute()
    otp_challenge = UnicodeAttribute(default="")
    status = UnicodeAttribute(default="open")  # open | satisfied
    created_ms = NumberAttribute()
    expires_ms = NumberAttribute()
    expires_at = TTLAttribute()
