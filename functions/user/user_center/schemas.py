"""Request and response schemas of the user center."""

from __future__ import annotations

from bank_common.schema import Mobile, NewPassword, Out, Strict


class RegisterIn(Strict):
    mobile: Mobile
    password: NewPassword


class RegisterOut(Out):
    customer_id: str
