"""pynamodb models of the contract & limit center's tables.

The signature and limit-definition models live in the shared layer (`bank_common.agreements.Signature`,
`bank_common.limits.LimitDefinition`, `bank_common.limits.LimitUsage`), because money operations read them
inside their batched read (DESIGN 3, 5); this center is the only one that writes definitions and signatures.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from bank_common.ddb import LazyTableMeta


class AgreementTemplate(Model):
    """One version of an agreement's text: pk TPL#<code>, sk V#<version, 6 digits>. Never changed once
    written: a new text is a new version. `content_hash` (SHA-256 of the text) is what a signature names."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "AGREEMENTS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    code = UnicodeAttribute()
    version = NumberAttribute()
    title = UnicodeAttribute()
    content = UnicodeAttribute()
    content_hash = UnicodeAttribute()
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()


class AgreementIndex(Model):
    """pk AGR#<agreement_id>, sk AGR: whose signature an agreement id is (lookups by id, ownership checks)."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "AGREEMENTS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    customer_id = UnicodeAttribute()
    template_code = UnicodeAttribute()
