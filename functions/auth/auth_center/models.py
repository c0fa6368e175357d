"""pynamodb models of the authentication center's tables."""

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
    failed_attempts = NumberAttribute(default=0)  # attempts in the current window (auth_center.store)
    locked_until = NumberAttribute(default=0)  # epoch seconds; the login is refused until then
    lock_count = NumberAttribute(default=0)  # locks since the last success: each one lasts twice as long
    created_at = UnicodeAttribute()


class Session(Model):
    """A refresh token's session, stored by the token's SHA-256 (the token itself is never stored)."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "SESSIONS_TABLE"

    token_hash = UnicodeAttribute(hash_key=True)
    subject = UnicodeAttribute()
    kind = UnicodeAttribute()
    channel = UnicodeAttribute()
    device_id = UnicodeAttribute(default="")
    created_at = UnicodeAttribute()
    expires_at = TTLAttribute()
