"""pynamodb models of the user center's table."""

from __future__ import annotations

from pynamodb.attributes import UnicodeAttribute
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
    kyc_level = UnicodeAttribute(default="none")
    created_at = UnicodeAttribute()


class MobileClaim(Model):
    """pk MOBILE#<mobile>: makes a mobile number belong to one customer (conditional put)."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "CUSTOMERS_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
