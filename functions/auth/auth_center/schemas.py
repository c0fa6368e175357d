"""Request and response models of the authentication center."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)


class LoginIn(Strict):
    mobile: str = Field(pattern=r"^1[3-9][0-9]{9}$")
    password: str = Field(min_length=1, max_length=128)


class StaffLoginIn(Strict):
    username: str = Field(pattern=r"^[a-z][a-z0-9_.-]{2,31}$")
    password: str = Field(min_length=1, max_length=128)


class TokenOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    access_token: str
    refresh_token: str
    token_type: str = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
