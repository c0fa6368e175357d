"""pynamodb models of the account center's tables (names come from env vars when first used)."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from bank_common.ddb import LazyTableMeta


class ByCustomer(GlobalSecondaryIndex["Account"]):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    opened_at = UnicodeAttribute(range_key=True)


class Account(Model):
    """An e-account (Type I/II/III), a settlement account of a biller or product, or one of the bank's own
    ledger accounts (type GL: cash, clearing, suspense, fee income).

    Balances are integer fen in the customer-liability sign: the bank's cash account goes negative as cash
    comes in, so the balances of all accounts (plus the postings still in the journal) always sum to zero.
    `held` is what active holds reserve and `available` = balance - held. `version` counts the account's
    statement entries and is the optimistic lock of everything that changes the balance in place (debits,
    in-place credits, folds of the journal), which makes each entry's balance_after exact. Credits that must
    not wait for that lock go to the account's journal (docs/decisions/0021).
    """

    class Meta(metaclass=LazyTableMeta):
        table_env = "ACCOUNTS_TABLE"

    account_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    account_type = UnicodeAttribute()  # I | II | III | SETTLEMENT | GL
    status = UnicodeAttribute(default="active")  # active | frozen | suspended | closed
    currency = UnicodeAttribute(default="CNY")
    balance = NumberAttribute(default=0)
    held = NumberAttribute(default=0)
    available = NumberAttribute(default=0)
    version = NumberAttribute(default=0)
    opened_at = UnicodeAttribute()
    hot = BooleanAttribute(default=False)  # credited through its journal (many payers at once)
    # Type II/III: the customer's own Type I account or card it is bound to, and whether its bank confirmed it.
    bound_account = UnicodeAttribute(null=True)
    bound_bank = UnicodeAttribute(null=True)  # a bank code; "SELF" for an account of this bank
    binding = UnicodeAttribute(null=True)  # verified | unverified
    status_reason = UnicodeAttribute(null=True)
    closed_at = UnicodeAttribute(null=True)
    by_customer = ByCustomer()


class AccountCount(Model):
    """How many accounts of one type a customer holds (pk COUNT#<customer_id>#<type>): PBOC allows one Type I
    per person and a bank-set number of Type II and III (5 each); opening adds one under that cap, closing
    takes it back."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "ACCOUNTS_TABLE"

    account_id = UnicodeAttribute(hash_key=True)
    opened = NumberAttribute(default=0)


class LedgerEntry(Model):
    """One line of an account's statement: pk ACC#<account_id>, sk E#<version, 12 digits>."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "LEDGER_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    transfer_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # transfer | deposit | capture | outbound | inbound | reversal | fee | ...
    direction = UnicodeAttribute()  # debit | credit
    amount = NumberAttribute()
    balance_after = NumberAttribute()
    counterparty = UnicodeAttribute()
    memo = UnicodeAttribute(default="")
    created_at = UnicodeAttribute()  # when the movement was accepted
    posted_at = UnicodeAttribute(null=True)  # when a journal posting was folded into the balance (if later)


class ByTransferId(GlobalSecondaryIndex["LedgerTransaction"]):
    """Completed movements by transfer id (what ops name when they reverse one)."""

    class Meta:
        index_name = "by_transfer_id"
        projection = KeysOnlyProjection()

    tid = UnicodeAttribute(hash_key=True)


class LedgerTransaction(Model):
    """The outcome of one money operation, keyed by the caller's idempotency key: the double-entry record of
    a completed movement, or the business refusal it got (an Idempotency-Key's outcome is final:
    docs/decisions/0020).

    pk TXN#<subject>#<Idempotency-Key>, sk TXN. Put with attribute_not_exists inside the money transaction
    (or alone, for a refusal), so the key makes the operation itself idempotent; it keeps the request hash
    and the answer for replays.
    """

    class Meta(metaclass=LazyTableMeta):
        table_env = "LEDGER_TABLE"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    outcome = UnicodeAttribute(default="completed")  # completed | refused
    transfer_id = UnicodeAttribute(default="")
    tid = UnicodeAttribute(null=True)  # = transfer_id on completed movements (the by_transfer_id index)
    kind = UnicodeAttribute(default="")
    legs = UnicodeAttribute(default="[]")  # JSON [{account, direction, amount}], debits == credits
    request_hash = UnicodeAttribute()
    response = UnicodeAttribute(default="{}")  # completed: the response body
    status = NumberAttribute(default=201)  # the HTTP status answered (a refusal's, or the success's)
    error = UnicodeAttribute(null=True)  # refused: {code, message, details}
    usage = UnicodeAttribute(null=True)  # JSON usage deltas the movement added (a same-day reversal gives them back)
    reversed_by = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    by_transfer_id = ByTransferId()


class JournalPosting(Model):
    """A posting waiting to be folded into its account's balance and statement (pk account_id,
    sk J#<created_at>#<id>, so folds take them in arrival order). Credits to hot accounts and every posting
    to the bank's GL accounts are written here instead of locking the account (docs/decisions/0021)."""

    class Meta(metaclass=LazyTableMeta):
        table_env = "JOURNAL_TABLE"

    account_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    amount = NumberAttribute()  # signed fen: + credit, - debit
    transfer_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    counterparty = UnicodeAttribute()
    memo = UnicodeAttribute(default="")
    created_at = UnicodeAttribute()


class ByExpiry(GlobalSecondaryIndex["Hold"]):
    """Active holds by expiry (sparse: only active holds carry `active_shard`), for the sweeper."""

    class Meta:
        index_name = "by_expiry"
        projection = KeysOnlyProjection()

    active_shard = UnicodeAttribute(hash_key=True)
    expires_epoch = NumberAttribute(range_key=True)


class ByOutbox(GlobalSecondaryIndex["Hold"]):
    """Outbound transfers accepted but not yet handed to the clearing adapter (sparse), for the sweeper."""

    class Meta:
        index_name = "by_outbox"
        projection = KeysOnlyProjection()

    outbox_shard = UnicodeAttribute(hash_key=True)
    queued_epoch = NumberAttribute(range_key=True)


class Hold(Model):
    """Money reserved on an account (available - amount) until it is captured, released or expires.

    Also the idempotency record of the hold request (hold_id is derived from the caller and its key), of its
    capture and of its release (each a conditional change of `status`). An outbound transfer to another bank
    is a hold of kind `outbound` with its clearing state.
    """

    class Meta(metaclass=LazyTableMeta):
        table_env = "HOLDS_TABLE"

    hold_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(default="hold")  # hold | outbound
    status = UnicodeAttribute()  # active | captured | released | refused
    customer_id = UnicodeAttribute(default="")
    account_id = UnicodeAttribute(default="")
    amount = NumberAttribute(default=0)
    request_hash = UnicodeAttribute()
    response = UnicodeAttribute(default="{}")  # the hold request's answer
    error = UnicodeAttribute(null=True)  # refused: {code, message, details}
    http_status = NumberAttribute(default=201)
    txn_type = UnicodeAttribute(default="")
    channel = UnicodeAttribute(default="")
    destination = UnicodeAttribute(null=True)  # where a capture pays by default
    memo = UnicodeAttribute(default="")
    usage = UnicodeAttribute(default="[]")  # JSON usage deltas reserved (a release gives them back)
    expires_at = UnicodeAttribute(default="")
    expires_epoch = NumberAttribute(default=0)
    active_shard = UnicodeAttribute(null=True)
    captured_amount = NumberAttribute(null=True)
    settled = UnicodeAttribute(null=True)  # the capture's or release's answer (replayed to its retries)
    settle_hash = UnicodeAttribute(null=True)  # the hash of the capture request that settled it
    closed_reason = UnicodeAttribute(null=True)  # captured | released | expired | returned
    created_at = UnicodeAttribute(default="")
    updated_at = UnicodeAttribute(null=True)
    # outbound transfers
    to_bank = UnicodeAttribute(null=True)
    to_account = UnicodeAttribute(null=True)
    to_name = UnicodeAttribute(null=True)
    fee = NumberAttribute(default=0)
    counts_outflow = BooleanAttribute(default=True)
    clearing_status = UnicodeAttribute(null=True)  # queued | submitted | confirmed | returned | late
    outbox_shard = UnicodeAttribute(null=True)
    queued_epoch = NumberAttribute(null=True)
    by_expiry = ByExpiry()
    by_outbox = ByOutbox()
