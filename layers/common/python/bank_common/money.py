"""Money: decimal strings ("125.50") in the API, integer fen inside. Floats are refused outright."""

from __future__ import annotations

import re
from typing import Any

# A positive amount with at most two places: the schema says everything the parser checks, zero included.
_AMOUNT_BODY = r"[1-9][0-9]{0,12}(?:\.[0-9]{1,2})?|0\.(?:[1-9][0-9]?|0[1-9])"
_AMOUNT = re.compile(_AMOUNT_BODY)
MAX_FEN = 10**15  # ten trillion yuan: far above any cap, far below float/JSON precision trouble
AMOUNT_SCHEMA = {"type": "string", "pattern": f"^(?:{_AMOUNT_BODY})$(?!\\n)", "examples": ["125.50"],
                 "description": "CNY, a positive decimal string with at most two places."}


class AmountError(ValueError):
    """A request amount that is not a positive decimal string with at most two places."""


class Amount(int):
    """Integer fen from a request field that is a decimal string on the wire (bank_common.schema
    decodes every JSON value of such a field with parse_amount, numbers included, so floats fail)."""


def parse_amount(value: Any) -> int:
    """Decimal string → positive integer fen. Rejects floats, ints, negatives, >2 places, zero."""
    if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
        raise AmountError("amount must be a decimal string like \"125.50\"")
    whole, _, frac = value.partition(".")
    fen = int(whole) * 100 + int((frac + "00")[:2])
    if fen <= 0:
        raise AmountError("amount must be greater than zero")
    if fen >= MAX_FEN:
        raise AmountError("amount is too large")
    return fen


def format_fen(fen: int) -> str:
    """Integer fen → "125.50" (negative keeps its sign)."""
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError("money is integer fen")
    sign = "-" if fen < 0 else ""
    whole, frac = divmod(abs(fen), 100)
    return f"{sign}{whole}.{frac:02d}"
