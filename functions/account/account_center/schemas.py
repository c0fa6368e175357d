"""Request and response schemas of the account center (they also feed the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from bank_common.money import Amount
from bank_common.schema import Meta, MoneyText, Out, Strict, anchored

AccountNumber = Annotated[str, Meta(min_length=6, max_length=40, pattern=anchored(r"[0-9A-Za-z-]+"))]
Memo = Annotated[str, Meta(max_length=140)]
Reason = Annotated[str, Meta(min_length=1, max_length=200, description="Why (kept in the account's record).")]
PageSize = Annotated[int, Meta(ge=1, le=100, description="Entries per page (default 20).")]
# Statement cursor: the entry id to continue below (every value of this shape is meaningful).
Cursor = Annotated[str, Meta(pattern=anchored(r"[0-9]{1,12}"), description="next_cursor of the previous page.")]
CardNumber = Annotated[str, Meta(pattern=anchored(r"[0-9]{16,19}"), examples=["6222020200112233445"],
                                 description="A bank card or account number: 16-19 digits, Luhn check digit last.")]
BankCode = Annotated[str, Meta(pattern=anchored(r"[0-9]{12}|SELF"), examples=["102100099996"],
                               description="The bank's 12-digit CNAPS participant code, or SELF for this bank.")]
PersonName = Annotated[str, Meta(min_length=2, max_length=30, pattern=anchored(r"[^\x00-\x1f\x7f]+"),
                                 examples=["张三"])]
IdNumber = Annotated[str, Meta(pattern=anchored(r"[1-9][0-9]{16}[0-9Xx]"), examples=["11010519491231002X"],
                               description="Mainland resident ID number (18 characters).")]
Mobile = Annotated[str, Meta(pattern=anchored(r"1[3-9][0-9]{9}"), examples=["13912345678"])]
CustomerId = Annotated[str, Meta(min_length=1, max_length=64, pattern=anchored(r"[0-9A-Za-z_-]+"))]
HoldId = Annotated[str, Meta(pattern=anchored(r"[HO][0-9a-f]{31}"),
                             description="A hold's (or an outbound transfer's) id.")]


class Binding(Strict):
    """The customer's own Type I account or card a Type II/III account is bound to, with what its bank checks
    (name, ID number and mobile as registered there: four-element verification). Only the card number and
    bank code are kept; the rest is passed to the verification and forgotten."""

    card_number: CardNumber
    bank_code: BankCode = "SELF"
    name: PersonName | None = None
    id_number: IdNumber | None = None
    mobile: Mobile | None = None


class OpenAccountIn(Strict):
    type: Annotated[Literal["I", "II", "III"], Meta(description="PBOC account type; channels open Type II or III.")]
    binding: Binding | None = None


class VerifyBindingIn(Strict):
    """The four elements again, for a new verification of a suspended account's binding."""

    name: PersonName | None = None
    id_number: IdNumber | None = None
    mobile: Mobile | None = None


class OpenTypeIIn(Strict):
    customer_id: CustomerId


class AccountOut(Out):
    account_id: str
    type: str
    status: str
    balance: MoneyText
    available: MoneyText
    held: MoneyText
    opened_at: str
    bound_account: str | None = None
    binding: str | None = None
    currency: str = "CNY"


class AccountList(Out):
    items: list[AccountOut]


class StatusChangeIn(Strict):
    reason: Reason


class TransferIn(Strict):
    from_account: AccountNumber
    to_account: AccountNumber
    amount: Amount
    memo: Memo = ""


class TransferOut(Out):
    transfer_id: str
    status: Literal["completed"]
    from_account: str
    to_account: str
    amount: MoneyText
    memo: str
    balance_after: MoneyText
    created_at: str


class DepositIn(Strict):
    account_id: AccountNumber
    amount: Amount
    memo: Memo = "cash deposit"


class DepositOut(Out):
    transfer_id: str
    status: Literal["completed"]
    account_id: str
    amount: MoneyText
    created_at: str


class ReversalIn(Strict):
    transfer_id: Annotated[str, Meta(pattern=anchored(r"[0-9a-f]{32}"))]
    reason: Reason


class ReversalOut(Out):
    transfer_id: str
    reverses: str
    status: Literal["completed"]
    amount: MoneyText
    quota_returned: bool
    created_at: str


class OutboundIn(Strict):
    from_account: AccountNumber
    to_bank: Annotated[str, Meta(pattern=anchored(r"[0-9]{12}"), examples=["102100099996"],
                                 description="The receiving bank's 12-digit CNAPS participant code.")]
    to_account: CardNumber
    to_name: PersonName
    amount: Amount
    memo: Memo = ""


class OutboundOut(Out):
    transfer_id: str
    status: Literal["pending", "completed", "returned", "expired"]
    from_account: str
    to_bank: str
    to_account: str
    amount: MoneyText
    fee: MoneyText
    memo: str
    created_at: str


class StatementEntry(Out):
    entry_id: int
    transfer_id: str
    kind: str
    direction: Literal["debit", "credit"]
    amount: MoneyText
    balance_after: MoneyText
    counterparty: str
    memo: str
    created_at: str
    posted_at: str | None = None


class StatementPage(Out):
    account_id: str
    items: list[StatementEntry]
    next_cursor: str | None


# --- internal operations (other centers, the clearing adapter): holds ----------------------------------

TxnType = Literal["transfer", "outbound_transfer", "bill_pay", "payment", "wealth_purchase"]
Channel = Literal["web", "app", "wechat_mp", "wechat_oa", "alipay_mp"]


class HoldIn(Strict):
    caller: Annotated[str, Meta(pattern=anchored(r"[a-z]{2,20}"), description="The calling center.")]
    idempotency_key: Annotated[str, Meta(min_length=8, max_length=128,
                                         pattern=anchored(r"[A-Za-z0-9][A-Za-z0-9_.:-]*"))]
    customer_id: CustomerId
    account_id: AccountNumber
    amount: Amount
    txn_type: TxnType
    channel: Channel
    auth_level: Literal["L1", "L2", "L3"] = "L1"
    expires_in_seconds: Annotated[int, Meta(ge=5, le=30 * 86400)] = 900
    destination: AccountNumber | None = None
    memo: Memo = ""


class CaptureIn(Strict):
    hold_id: HoldId
    account_id: AccountNumber
    destination: AccountNumber
    amount: Amount | None = None  # default: the whole hold
    memo: Memo = ""
    # The marketing center's prepared coupon redemption (bank_common.marketing_effects.Redemption.to_plan): its
    # items ride in this capture's transaction and its discount is funded by the marketing expense GL account.
    redemption: dict[str, Any] | None = None
    # The points this payment earns (the marketing center's earn plan: {"earns": [PointsEarn.to_plan()]}), entered
    # once per (hold, campaign) in this capture's transaction (decision 0044).
    earn: dict[str, Any] | None = None


class ReleaseIn(Strict):
    hold_id: HoldId
    account_id: AccountNumber


class RefundIn(Strict):
    """A captured hold's money back to the account it came from (a payment its payee refused)."""

    hold_id: HoldId
    account_id: AccountNumber
    memo: Memo = ""
