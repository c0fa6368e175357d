"""pynamodb models of the account center's tables (names come from env vars when first used)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from bank_common.ddb import LazyTableMeta


class ByCustomer(GlobalSecondaryIndex["Account"]):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    opened_at = UnicodeAttribute(range_key=True)


class Account(Model):
    """An e-account (Type I/II/III) or one of the bank's own ledger accounts (type GL).

    Balances are integer fen in the customer-liability sign: the bank's cash account goes negative as
    cash comes in, so the balances of all accounts always sum to zero. `version` counts ledger entries
    and is the optimistic lock that makes each entry's balance_after exact.
    """

    class Meta(metaclass=LazyTableMeta):
        table_env = "ACCOUNTS_TABLE"

    account_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    account_type = UnicodeAttribute()
    status = UnicodeAttribute(default="active")
    currency = UnicodeAttribute(default="CNY")
    balance = NumberAttribute(default=0)
    available = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    opened_at = UnicodeAttribute()
    by_customer = ByCustomer()


class AccountTypeClaim(Model):
    """One item per customer and account type: PBOC allows one Type II and one Type III per bank."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "ACCOUNTS_TABLE"

    account_id = UnicodeAttribute(hash_key=True)  # "CLAIM#<customer_id>#<type>"
    owner_account = UnicodeAttribute()


class LedgerEntry(Model):
    """One line of an account's statement: pk ACC#<account_id>, sk E#<version, 12 digits>."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "LEDGER_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    transfer_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # transfer | deposit
    direction = UnicodeAttribute()  # debit | credit
    amount = NumberAttribute()
    balance_after = NumberAttribute()
    counterparty = UnicodeAttribute()
    memo = UnicodeAttribute(default="")
    created_at = UnicodeAttribute()


class LedgerTransaction(Model):
    """The double-entry record of one movement, keyed by the caller's idempotency key.

    pk TXN#<subject>#<Idempotency-Key>, sk TXN. Written with attribute_not_exists inside the money
    transaction, so the key makes the transaction itself idempotent; it keeps the request hash and the
    response for replays.
    """

    class Meta(metaclass=LazyTableMeta):
        table_env = "LEDGER_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    transfer_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    legs = UnicodeAttribute()  # JSON [{account, direction, amount}], debits == credits
    request_hash = UnicodeAttribute()
    response = UnicodeAttribute()
    created_at = UnicodeAttribute()
