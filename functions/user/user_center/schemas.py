"""Request and response schemas of the user center."""

from __future__ import annotations

from typing import Annotated

from bank_common.schema import Meta, Mobile, Out, Strict, field_error


class RegisterIn(Strict):
    mobile: Annotated[Mobile, Meta(description="Mainland China mobile number, 11 digits.")]
    password: Annotated[str, Meta(min_length=8, max_length=64, description="8-64 characters, letters and digits.")]

    def __post_init__(self) -> None:
        if not (any(c.isalpha() for c in self.password) and any(c.isdigit() for c in self.password)):
            raise field_error("password", "password needs at least one letter and one digit")


class RegisterOut(Out):
    customer_id: str
