"""Request and response schemas of the authentication center."""

from __future__ import annotations

from typing import Annotated, Literal

from bank_common.schema import Meta, Mobile, NewPassword, Out, Strict, anchored

# What a login may present: any password as typed (the rules apply when a password is chosen).
Password = Annotated[str, Meta(min_length=1, max_length=128)]
Username = Annotated[str, Meta(pattern=anchored(r"[a-z][a-z0-9_.-]{2,31}"),
                               description="Staff username: lower case, 3-32 characters.")]
DeviceId = Annotated[str, Meta(min_length=1, max_length=128, pattern=anchored(r"[A-Za-z0-9_:.-]+"),
                               description="The device's fingerprint id, recorded with the session.")]
StaffRole = Literal["teller", "ops", "risk", "marketing"]


class LoginIn(Strict):
    mobile: Mobile
    password: Password


class StaffLoginIn(Strict):
    username: Username
    password: Password


class StaffProvisionIn(Strict):
    """What operations send to ProvisionStaffFunction (a direct invoke; not on the public API)."""

    username: Username
    password: NewPassword
    roles: Annotated[list[StaffRole], Meta(min_length=1, max_length=4)]
    subject: Annotated[str, Meta(pattern=anchored(r"s-[a-z0-9_.-]{3,40}"))] | None = None


class TokenOut(Out):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
