"""Request and response schemas of the authentication center."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from bank_common.limits import CapsIn, TxnType
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
    """The exact request the step-up is for: a transfer's accounts and amount, or a limit raise's transaction
    type and every new value of the customer's own limits (as PUT /v1/contract/limits/{txn_type} will send them)."""

    operation: Literal["transfer", "limit_raise"]
    from_account: AccountRef | None = None
    to_account: AccountRef | None = None
    amount: Amount | None = None
    txn_type: TxnType | None = None
    limits: CapsIn | None = None

    # The rule __post_init__ checks, as the document states it.
    __schema_any_of__: ClassVar[list[dict[str, Any]]] = [
        {"properties": {"operation": {"const": "transfer"}, "txn_type": {"type": "null"}, "limits": {"type": "null"}},
         "required": ["operation", "from_account", "to_account", "amount"]},
        {"properties": {"operation": {"const": "limit_raise"}, "from_account": {"type": "null"},
                        "to_account": {"type": "null"}, "amount": {"type": "null"}},
         "required": ["operation", "txn_type", "limits"]},
    ]

    def __post_init__(self) -> None:
        from bank_common.schema import field_error

        transfer = (self.from_account, self.to_account, self.amount)
        raise_ = (self.txn_type, self.limits)
        if self.operation == "transfer" and (None in transfer or raise_ != (None, None)):
            raise field_error("operation", "a transfer's step-up names from_account, to_account and amount only")
        if self.operation == "limit_raise" and (None in raise_ or transfer != (None, None, None)):
            raise field_error("operation", "a limit raise's step-up names txn_type and limits only")


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
