"""Request and response schemas of the authentication center."""

from __future__ import annotations

from typing import Annotated, Literal

from bank_common.money import Amount
from bank_common.schema import Meta, Mobile, NewPassword, Out, Strict, anchored

# What a login may present: any password as typed (the rules apply when a password is chosen).
Password = Annotated[str, Meta(min_length=1, max_length=128)]
Username = Annotated[str, Meta(pattern=anchored(r"[a-z][a-z0-9_.-]{2,31}"),
                               description="Staff username: lower case, 3-32 characters.")]
ChallengeId = Annotated[str, Meta(pattern=anchored(r"(?:otp|sup)_[A-Za-z0-9_-]{16,40}"),
                                  description="The id of a one-time password or step-up challenge.")]
OtpCode = Annotated[str, Meta(pattern=anchored(r"[0-9]{6}"), description="The 6-digit code sent by SMS.",
                              examples=["123456"])]
ServerDeviceId = Annotated[str, Meta(pattern=anchored(r"dv_[a-z2-7]{26}"), examples=["dv_abcdefghijklmnopqrstuvwxyz"])]
AccountRef = Annotated[str, Meta(min_length=1, max_length=40, pattern=anchored(r"[A-Za-z0-9-]+"))]
StaffRole = Literal["teller", "ops", "risk", "marketing"]
Platform = Literal["ios", "android", "harmonyos", "web", "wechat", "alipay", "other"]


class DeviceInfo(Strict):
    """What the client says about the device (part of its server-side id: the platform; a label: the model)."""

    platform: Platform
    model: Annotated[str, Meta(max_length=64, pattern=anchored(r"[A-Za-z0-9 _.,()+-]*"))] = ""


class LoginIn(Strict):
    mobile: Mobile
    password: Password
    device: DeviceInfo | None = None


class StaffLoginIn(Strict):
    username: Username
    password: Password


class StaffProvisionIn(Strict):
    """What operations send to ProvisionStaffFunction (a direct invoke; not on the public API)."""

    username: Username
    password: NewPassword
    roles: Annotated[list[StaffRole], Meta(min_length=1, max_length=4)]
    subject: Annotated[str, Meta(pattern=anchored(r"s-[a-z0-9_.-]{3,40}"))] | None = None


class StaffDeprovisionIn(Strict):
    """What operations send to DeprovisionStaffFunction when a member of staff leaves."""

    username: Username


class TokenOut(Out):
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret


class OtpSendIn(Strict):
    purpose: Literal["register", "password_reset"]
    mobile: Mobile


class OtpSentOut(Out):
    challenge_id: str
    expires_in: int
    resend_after: int


class DeviceLoginIn(Strict):
    """The second step of a login from a device not bound yet: the code texted to the customer."""

    challenge_id: ChallengeId
    code: OtpCode


class RefreshIn(Strict):
    refresh_token: Annotated[str, Meta(min_length=20, max_length=128, pattern=anchored(r"[A-Za-z0-9_-]+"))]


class DeviceOut(Out):
    device_id: str
    platform: str
    model: str
    bound_at: str
    last_seen_at: str | None
    current: bool


class DeviceListOut(Out):
    items: list[DeviceOut]
    limit: int


class StepUpIn(Strict):
    """The exact request the step-up is for: a money operation's type, accounts and amount."""

    operation: Literal["transfer"]
    from_account: AccountRef
    to_account: AccountRef
    amount: Amount


class StepUpOut(Out):
    challenge_id: str
    expires_in: int
    methods: list[str]


class StepUpVerifyIn(Strict):
    code: OtpCode


class StepUpTokenOut(Out):
    step_up_token: str
    expires_in: int


class PasswordChangeIn(Strict):
    old_password: Password
    new_password: NewPassword


class PasswordResetIn(Strict):
    mobile: Mobile
    challenge_id: ChallengeId
    code: OtpCode
    new_password: NewPassword


class Jwk(Out):
    kty: str
    crv: str
    x: str
    kid: str
    alg: str
    use: str


class JwksOut(Out):
    keys: list[Jwk]
