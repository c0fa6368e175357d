"""Request and response schemas of the user center."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from bank_common.schema import Meta, Mobile, NewPassword, Out, Strict, anchored

ChallengeId = Annotated[str, Meta(pattern=anchored(r"otp_[A-Za-z0-9_-]{16,40}"),
                                  description="The challenge id POST /v1/auth/otp returned.")]
OtpCode = Annotated[str, Meta(pattern=anchored(r"[0-9]{6}"), description="The 6-digit code sent by SMS.",
                              examples=["123456"])]
Version = Annotated[str, Meta(min_length=1, max_length=32, pattern=anchored(r"[A-Za-z0-9._-]+"),
                              examples=["2026-11"])]
Platform = Literal["ios", "android", "harmonyos", "web", "wechat", "alipay", "other"]


class OtpProof(Strict):
    challenge_id: ChallengeId
    code: OtpCode


class ConsentIn(Strict):
    """The versions of the documents the customer accepted (GET /v1/user/agreements names the current ones)."""

    privacy_policy: Version
    service_agreement: Version


class ClientDevice(Strict):
    platform: Platform
    model: Annotated[str, Meta(max_length=64, pattern=anchored(r"[A-Za-z0-9 _.,()+-]*"))] = ""


class RegisterIn(Strict):
    mobile: Mobile
    password: NewPassword
    otp: OtpProof
    consents: ConsentIn
    device: ClientDevice | None = None


class RegisterOut(Out):
    customer_id: str


class AgreementVersionOut(Out):
    version: str
    url: str


class AgreementsOut(Out):
    privacy_policy: AgreementVersionOut
    service_agreement: AgreementVersionOut


# --- profile -----------------------------------------------------------------------------------------------

Nickname = Annotated[str, Meta(min_length=1, max_length=32, pattern=anchored(r"[^\x00-\x1f<>]+"))]
Email = Annotated[str, Meta(max_length=254,
                            pattern=anchored(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,185}\.[A-Za-z]{2,24}"))]


class ProfileOut(Out):
    """The customer's profile; personal data masked (the full values never leave the bank in a response)."""

    customer_id: str
    status: str
    kyc_level: str
    mobile: str
    name: str | None
    id_number: str | None
    id_expiry: str | None
    nickname: str | None
    email: str | None
    risk_level: str | None
    risk_expires_on: str | None
    created_at: str


class ProfileUpdateIn(Strict):
    nickname: Nickname | None = None
    email: Email | None = None


class NotificationChannels(Strict):
    sms: bool = True
    app_push: bool = True
    wechat: bool = False
    email: bool = False


class NotificationTopics(Strict):
    transactions: bool = True
    security: bool = True  # may not be turned off (logins from new devices, password changes)
    marketing: bool = False


class PreferencesIn(Strict):
    channels: NotificationChannels
    topics: NotificationTopics


class PreferencesOut(Out):
    channels: dict[str, bool]
    topics: dict[str, bool]
    updated_at: str | None


Text = Annotated[str, Meta(min_length=1, max_length=120, pattern=anchored(r"[^\x00-\x1f<>]+"))]
AddressId = Annotated[str, Meta(pattern=anchored(r"ad_[a-f0-9]{16}"))]


class AddressIn(Strict):
    recipient: Annotated[str, Meta(min_length=1, max_length=40, pattern=anchored(r"[^\x00-\x1f<>]+"))]
    phone: Mobile
    region: Text
    line: Text
    postcode: Annotated[str, Meta(pattern=anchored(r"[0-9]{6}"))] | None = None
    label: Annotated[str, Meta(max_length=16, pattern=anchored(r"[^\x00-\x1f<>]*"))] = ""
    is_default: bool = False


class AddressOut(Out):
    address_id: str
    recipient: str
    phone: str  # masked
    region: str
    line: str
    postcode: str
    label: str
    is_default: bool
    updated_at: str


class AddressListOut(Out):
    items: list[AddressOut]
    limit: int


# --- risk questionnaire --------------------------------------------------------------------------------------

class OptionOut(Out):
    option_id: str
    text: str


class QuestionOut(Out):
    question_id: str
    text: str
    options: list[OptionOut]


class QuestionnaireOut(Out):
    version: str
    questions: list[QuestionOut]
    validity_days: int


class RiskAnswersIn(Strict):
    version: Version
    answers: Annotated[dict[Annotated[str, Meta(pattern=anchored(r"q[0-9]{1,2}"))],
                            Annotated[str, Meta(pattern=anchored(r"[a-e]"))]], Meta(min_length=1, max_length=20)]


class RiskAssessmentOut(Out):
    assessment_id: str
    questionnaire_version: str
    score: int
    level: str
    assessed_at: str
    expires_on: str
    expired: bool
    answers: dict[str, str]


# --- channel identities --------------------------------------------------------------------------------------

Provider = Literal["wechat_mp", "wechat_oa", "alipay_mp"]
ChannelCode = Annotated[str, Meta(min_length=4, max_length=128, pattern=anchored(r"[A-Za-z0-9_.-]+"),
                                  description="The one-time code the channel's SDK returned (wx.login, "
                                              "the OAuth2 redirect, my.getAuthCode).")]
IdentityId = Annotated[str, Meta(pattern=anchored(r"password|id_[a-f0-9]{16}"))]


class LinkIdentityIn(Strict):
    provider: Provider | Literal["password"]
    code: ChannelCode | None = None  # a channel's code (WeChat, Alipay)
    password: NewPassword | None = None  # adding the password login back

    # The rule mismatch() checks, as the document states it.
    __schema_any_of__: ClassVar[list[dict[str, Any]]] = [
        {"properties": {"provider": {"const": "password"}, "password": {"type": "string"}, "code": {"type": "null"}},
         "required": ["provider", "password"]},
        {"properties": {"provider": {"not": {"const": "password"}}, "code": {"type": "string"},
                        "password": {"type": "null"}},
         "required": ["provider", "code"]},
    ]

    def mismatch(self) -> str | None:
        """Which field the provider needs and lacks (or must not have): checked by the route, answered 422."""
        if self.provider == "password" and (self.password is None or self.code is not None):
            return "the password login needs `password` (and no `code`)"
        if self.provider != "password" and (self.code is None or self.password is not None):
            return "a channel identity needs the channel's `code` (and no `password`)"
        return None


class IdentityOut(Out):
    identity_id: str
    provider: str
    display: str  # masked
    linked_at: str


class IdentityListOut(Out):
    items: list[IdentityOut]


class ChannelLoginIn(Strict):
    provider: Provider
    code: ChannelCode
    device: ClientDevice | None = None


class ChannelLoginOut(Out):
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


# --- KYC -----------------------------------------------------------------------------------------------------

KycId = Annotated[str, Meta(pattern=anchored(r"kyc_[a-f0-9]{16}"))]


class UploadOut(Out):
    part: str  # id_front | id_back | selfie
    url: str
    method: str
    expires_in: int


class KycStartOut(Out):
    kyc_id: str
    uploads: list[UploadOut]
    liveness_session: str | None


class KycAttemptOut(Out):
    kyc_id: str
    status: str
    reason: str | None
    created_at: str
    finished_at: str | None


class KycOut(Out):
    kyc_level: str
    latest: KycAttemptOut | None
