"""Request and response models of the user center."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

MOBILE_PATTERN = r"^1[3-9][0-9]{9}$"


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, defer_build=True)

    mobile: str = Field(pattern=MOBILE_PATTERN, description="Mainland China mobile number, 11 digits.")
    password: str = Field(min_length=8, max_length=64, description="8-64 characters, letters and digits.")

    @field_validator("password")
    @classmethod
    def strong_enough(cls, value: str) -> str:
        if not (any(c.isalpha() for c in value) and any(c.isdigit() for c in value)):
            raise ValueError("password needs at least one letter and one digit")
        return value


class RegisterOut(BaseModel):
    model_config = ConfigDict(defer_build=True)

    customer_id: str
