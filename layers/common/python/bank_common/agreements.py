"""Signed agreements, as the operations that need one check them (DESIGN 3: the contract & limit center owns
them; this module only reads a customer's current signature, inside the batched read of the operation).

A customer signs a template version in the contract center (evidence: customer, time, channel, device,
template version and its content hash). Operations that need an agreement refuse without a signature in
force: no e-account is opened and no money leaves one without the e-account agreement (`EACCOUNT`).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from bank_common.ddb import LazyTableMeta, s
from bank_common.errors import BusinessRuleViolation

EACCOUNT = "EACCOUNT"  # the electronic account service agreement (电子账户服务协议)


class AgreementRequired(BusinessRuleViolation):
    code = "AGREEMENT_REQUIRED"
    message = "Sign the e-account service agreement first (POST /v1/contract/agreements)."


class Signature(Model):
    """A customer's signature of one agreement: pk SIGN#<customer>, sk CUR#<code> (the one in force, or
    revoked) or H#<code>#<signed_at>#<agreement_id> (every signature ever made, kept as evidence)."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "AGREEMENTS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    agreement_id = UnicodeAttribute()
    customer_id = UnicodeAttribute()
    template_code = UnicodeAttribute()
    version = NumberAttribute()
    content_hash = UnicodeAttribute()
    signed_at = UnicodeAttribute()
    channel = UnicodeAttribute()
    device_id = UnicodeAttribute(default="")
    status = UnicodeAttribute(default="signed")  # signed | revoked
    revoked_at = UnicodeAttribute(null=True)


def signature_pk(customer_id: str) -> str:
    return f"SIGN#{customer_id}"


def current_sk(code: str) -> str:
    return f"CUR#{code}"


def signature_key(customer_id: str, code: str = EACCOUNT) -> dict[str, Any]:
    """The key of the customer's current signature of an agreement (for a BatchGetItem)."""
    return {"pk": s(signature_pk(customer_id)), "sk": s(current_sk(code))}


def in_force(item: dict[str, Any] | None) -> bool:
    return bool(item) and (item or {}).get("status", {}).get("S") == "signed"


def require(item: dict[str, Any] | None, code: str = EACCOUNT) -> None:
    """Refuse unless the signature read (wire format, or None) is in force."""
    if not in_force(item):
        raise AgreementRequired(details={"agreement": code})
