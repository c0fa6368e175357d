"""Request and response schemas of the account center (they also feed the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Literal

from bank_common.money import Amount
from bank_common.schema import Meta, MoneyText, Out, Strict, anchored

AccountNumber = Annotated[str, Meta(min_length=6, max_length=40, pattern=anchored(r"[0-9A-Za-z-]+"))]
Memo = Annotated[str, Meta(max_length=140)]
PageSize = Annotated[int, Meta(ge=1, le=100, description="Entries per page (default 20).")]
# Statement cursor: the entry id to continue below (every value of this shape is meaningful).
Cursor = Annotated[str, Meta(pattern=anchored(r"[0-9]{1,12}"), description="next_cursor of the previous page.")]


class OpenAccountIn(Strict):
    type: Annotated[Literal["I", "II", "III"], Meta(description="PBOC account type; channels open Type II or III.")]


class AccountOut(Out):
    account_id: str
    type: str
    status: str
    balance: MoneyText
    available: MoneyText
    opened_at: str
    currency: str = "CNY"


class AccountList(Out):
    items: list[AccountOut]


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


class StatementPage(Out):
    account_id: str
    items: list[StatementEntry]
    next_cursor: str | None
