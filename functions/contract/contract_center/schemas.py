"""Request and response schemas of the contract & limit center (they also feed the OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Literal

from bank_common.limits import CapsIn, TxnType  # noqa: F401 - TxnType: the routes name it from here
from bank_common.money import Amount
from bank_common.schema import Meta, MoneyText, Out, Strict, anchored

TemplateCode = Annotated[str, Meta(pattern=anchored(r"[A-Z][A-Z0-9_]{1,31}"), examples=["EACCOUNT"],
                                   description="An agreement's code, e.g. EACCOUNT (the e-account service agreement).")]
Sha256 = Annotated[str, Meta(pattern=anchored(r"[0-9a-f]{64}"), description="SHA-256 of the text, hex.")]
AgreementId = Annotated[str, Meta(pattern=anchored(r"agr-[0-9a-f]{32}"))]
# "BANK.<txn_type>.<channel>.<auth level>" or "ACCTYPE.<II|III>" (dots: path-safe)
DefinitionId = Annotated[str, Meta(pattern=anchored(
    r"BANK\.(transfer|outbound_transfer|bill_pay|payment|wealth_purchase)\.(web|app|wechat_mp|wechat_oa|alipay_mp)"
    r"\.L[123]|ACCTYPE\.(II|III)"), examples=["BANK.transfer.app.L1", "ACCTYPE.II"])]


class TemplateIn(Strict):
    code: TemplateCode
    title: Annotated[str, Meta(min_length=1, max_length=200)]
    content: Annotated[str, Meta(min_length=1, max_length=100_000)]


class TemplateOut(Out):
    code: str
    version: int
    title: str
    content: str
    content_hash: str
    created_at: str


class SignIn(Strict):
    """What the customer saw: the template's code, version and the hash of its text."""

    template_code: TemplateCode
    version: Annotated[int, Meta(ge=1, le=999_999)]
    content_hash: Sha256


class AgreementOut(Out):
    """A signature and its evidence."""

    agreement_id: str
    template_code: str
    version: int
    content_hash: str
    signed_at: str
    channel: str
    device_id: str
    status: Literal["signed", "revoked"]
    revoked_at: str | None = None


class AgreementList(Out):
    items: list[AgreementOut]


class Caps(Out):
    """Limits of one kind; a missing value is no limit of that kind."""

    single_amount: MoneyText | None = None
    daily_amount: MoneyText | None = None
    daily_count: int | None = None
    monthly_amount: MoneyText | None = None
    monthly_count: int | None = None
    yearly_amount: MoneyText | None = None
    yearly_count: int | None = None


class OwnLimitsIn(CapsIn):
    """The customer's own limits for one transaction type on this channel (absent: no own limit of that kind).
    Lowering is free; raising (or removing) needs a step-up session and stays within the bank's caps."""


class LimitView(Out):
    txn_type: str
    channel: str
    auth_level: str
    bank: Caps
    own: Caps
    effective: Caps


class LimitsOut(Out):
    items: list[LimitView]


class PeriodLeft(Out):
    amount: MoneyText | None = None
    count: int | None = None


class RemainingOut(Out):
    """How much the caller can still send today on this channel, with this authentication."""

    txn_type: str
    channel: str
    auth_level: str
    single: MoneyText | None
    today: PeriodLeft
    month: PeriodLeft
    year: PeriodLeft
    account_id: str | None = None
    account_today: MoneyText | None = None
    account_year: MoneyText | None = None
    can_send_now: MoneyText | None = None


class DefinitionIn(CapsIn, kw_only=True):
    """New values of one definition (all of them: a missing value removes that cap), why, and the revision
    they change (409 if someone changed it meanwhile)."""

    revision: Annotated[int, Meta(ge=0)]
    reason: Annotated[str, Meta(min_length=1, max_length=200)]
    out_daily_amount: Amount | None = None
    out_yearly_amount: Amount | None = None
    in_daily_amount: Amount | None = None
    in_yearly_amount: Amount | None = None
    max_balance: Amount | None = None


class DefinitionOut(Out):
    definition_id: str
    revision: int
    values: dict[str, MoneyText | int]
    updated_by: str | None
    updated_at: str | None


class DefinitionList(Out):
    items: list[DefinitionOut]


class AuditEntry(Out):
    at: str
    by: str
    reason: str
    revision: int
    before: dict[str, MoneyText | int]
    after: dict[str, MoneyText | int]


class AuditTrail(Out):
    definition_id: str
    items: list[AuditEntry]
