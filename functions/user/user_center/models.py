"""pynamodb models of the user center's tables.

- CustomersTable (pk): customers `CUST#<id>` and the claims that make an identifier belong to one customer:
  a mobile number `MOBILE#<n>`, an ID number `IDCARD#<keyed hash>`, a channel identity
  `IDENT#<provider>#<keyed hash of its id>` (WeChat openid / unionid, Alipay user id).
- CustomerDataTable (pk, sk): what belongs to one customer, under `pk = CUST#<id>`: consents, addresses,
  notification preferences, risk assessments, KYC attempts, linked identities; and the flow-control counters
  (`RATE#...`, bank_common.ratelimit) with their TTL.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
)
from pynamodb.models import Model

from bank_common.ddb import LazyTableMeta


class Customer(Model):
    """A customer (pk CUST#<id>). Mobile numbers are claimed by a MobileClaim item in the same table."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "CUSTOMERS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    mobile = UnicodeAttribute()
    status = UnicodeAttribute(default="active")  # pending (registration unfinished) | active
    kyc_level = UnicodeAttribute(default="none")  # none | L1 (mobile verified by OTP) | L2 (ID + face)
    registration_challenge = UnicodeAttribute(null=True)  # the OTP challenge that verified the mobile
    name = UnicodeAttribute(null=True)  # from the ID card, once KYC passed
    id_number = UnicodeAttribute(null=True)
    id_expiry = UnicodeAttribute(null=True)
    nickname = UnicodeAttribute(null=True)
    email = UnicodeAttribute(null=True)
    # Ways to log in: the password (unless unlinked) and each linked channel identity. Changed only by
    # conditional updates, so concurrent unlinks can never take the last one away.
    login_methods = NumberAttribute(null=True)  # absent: 1 (the password of a customer from before)
    password_login = BooleanAttribute(null=True)  # absent: True
    created_at = UnicodeAttribute()


class MobileClaim(Model):
    """pk MOBILE#<mobile>: makes a mobile number belong to one customer (conditional put)."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "CUSTOMERS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()


class Claim(Model):
    """pk IDCARD#<hash> or IDENT#<provider>#<hash>: one ID number, one channel identity → one customer."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "CUSTOMERS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    created_at = UnicodeAttribute()


class _CustomerItem(Model):
    class Meta(metaclass=LazyTableMeta):
        table_env = "CUSTOMER_DATA_TABLE"

    pk = UnicodeAttribute(hash_key=True)  # CUST#<customer id>
    sk = UnicodeAttribute(range_key=True)


class Consent(_CustomerItem):
    """sk CONSENT#<document>#<version>: the evidence of one accepted document version."""

    document = UnicodeAttribute()  # privacy_policy | service_agreement
    version = UnicodeAttribute()
    accepted_at = UnicodeAttribute()
    channel = UnicodeAttribute()
    source_ip = UnicodeAttribute(default="")


class Address(_CustomerItem):
    """sk ADDR#<address id>."""

    address_id = UnicodeAttribute()
    label = UnicodeAttribute(default="")
    recipient = UnicodeAttribute()
    phone = UnicodeAttribute()
    region = UnicodeAttribute()  # province / city / district
    line = UnicodeAttribute()
    postcode = UnicodeAttribute(default="")
    is_default = BooleanAttribute(default=False)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class Preferences(_CustomerItem):
    """sk PREFS: notification preferences."""

    channels = JSONAttribute(default=dict)  # {"sms": true, "app_push": true, "wechat": false, "email": false}
    topics = JSONAttribute(default=dict)  # {"transactions": true, "security": true, "marketing": false}
    updated_at = UnicodeAttribute()


class RiskAssessment(_CustomerItem):
    """sk RISK#<epoch ms> (history) and RISK#CURRENT (the latest): a questionnaire, its answers and level."""

    assessment_id = UnicodeAttribute()
    questionnaire_version = UnicodeAttribute()
    answers = JSONAttribute()
    score = NumberAttribute()
    level = UnicodeAttribute()  # C1 .. C5
    assessed_at = UnicodeAttribute()
    expires_on = UnicodeAttribute()


class KycAttempt(_CustomerItem):
    """sk KYC#<kyc id>: one identity verification (uploads, OCR fields, face result, outcome)."""

    kyc_id = UnicodeAttribute()
    status = UnicodeAttribute(default="uploading")  # uploading | passed | failed
    reason = UnicodeAttribute(null=True)
    liveness_session = UnicodeAttribute(null=True)
    ocr = JSONAttribute(null=True)  # fields the OCR read (name, id number, birth date, expiry)
    face = JSONAttribute(null=True)  # liveness confidence, similarity, threshold
    created_at = UnicodeAttribute()
    finished_at = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)  # unfinished attempts expire


class LinkedIdentity(_CustomerItem):
    """sk IDENT#<identity id>: a channel identity linked to the customer (WeChat, Alipay)."""

    identity_id = UnicodeAttribute()
    provider = UnicodeAttribute()  # wechat_mp | wechat_oa | alipay_mp
    claim = UnicodeAttribute()  # the Claim pk in CustomersTable
    union_claim = UnicodeAttribute(null=True)  # the WeChat unionid's claim, when there is one
    display = UnicodeAttribute(default="")  # a masked id, for the customer's list
    linked_at = UnicodeAttribute()
