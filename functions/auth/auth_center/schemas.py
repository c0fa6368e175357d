"""Request and response schemas of the authentication center."""

from __future__ import annotations

from typing import Annotated

from bank_common.schema import Meta, Mobile, Out, Strict

Password = Annotated[str, Meta(min_length=1, max_length=128)]


class LoginIn(Strict):
    mobile: Mobile
    password: Password


class StaffLoginIn(Strict):
    username: Annotated[str, Meta(pattern=r"^[a-z][a-z0-9_.-]{2,31}$")]
    password: Password


class TokenOut(Out):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
