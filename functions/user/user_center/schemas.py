"""Request and response schemas of the user center."""

from __future__ import annotations

from typing import Annotated, Literal

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


class DeviceInfo(Strict):
    platform: Platform
    model: Annotated[str, Meta(max_length=64, pattern=anchored(r"[A-Za-z0-9 _.,()+-]*"))] = ""


class RegisterIn(Strict):
    mobile: Mobile
    password: NewPassword
    otp: OtpProof
    consents: ConsentIn
    device: DeviceInfo | None = None


class RegisterOut(Out):
    customer_id: str


class AgreementOut(Out):
    version: str
    url: str


class AgreementsOut(Out):
    privacy_policy: AgreementOut
    service_agreement: AgreementOut
