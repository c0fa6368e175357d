"""Request and response models of the account center (they also feed the OpenAPI document)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bank_common.money import Amount, MoneyOut


class Out(BaseModel):
    # Validators are built on first use: a function builds only the models its one operation needs.
    model_config = ConfigDict(defer_build=True)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class OpenAccountIn(Strict):
    type: Literal["I", "II", "III"] = Field(description="PBOC account type; channels open Type II or III.")


class AccountOut(Out):
    account_id: str
    type: str
    status: str
    currency: str = "CNY"
    balance: MoneyOut
    available: MoneyOut
    opened_at: str


class AccountList(Out):
    items: list[AccountOut]


AccountNumber = Field(min_length=6, max_length=40, pattern=r"^[0-9A-Za-z-]+$")


class TransferIn(Strict):
    from_account: str = AccountNumber
    to_account: str = AccountNumber
    amount: Amount
    memo: str = Field(default="", max_length=140)


class TransferOut(Out):
    transfer_id: str
    status: Literal["completed"]
    from_account: str
    to_account: str
    amount: MoneyOut
    memo: str
    balance_after: MoneyOut
    created_at: str


class DepositIn(Strict):
    account_id: str = AccountNumber
    amount: Amount
    memo: str = Field(default="cash deposit", max_length=140)


class DepositOut(Out):
    transfer_id: str
    status: Literal["completed"]
    account_id: str
    amount: MoneyOut
    created_at: str


class StatementEntry(Out):
    entry_id: int
    transfer_id: str
    kind: str
    direction: Literal["debit", "credit"]
    amount: MoneyOut
    balance_after: MoneyOut
    counterparty: str
    memo: str
    created_at: str


class StatementPage(Out):
    account_id: str
    items: list[StatementEntry]
    next_cursor: str | None
