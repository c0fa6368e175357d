"""Coupon codes people can read aloud and type: 10 random characters and a check character.

The alphabet leaves out 0/O and 1/I (read and typed for one another), so it has 32 characters: 5 bits each,
50 random bits a code (a guess finds a live code with odds of issued/10^15). The check character is Luhn mod
32: any one mistyped character and any swap of two neighbouring characters is caught before a lookup. Codes
are shown in groups of four (XXXX-XXXX-XXX); dashes, spaces and lower case are accepted back.
"""

from __future__ import annotations

import secrets

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
BODY = 10
_VALUE = {c: i for i, c in enumerate(ALPHABET)}


def check_character(body: str) -> str:
    """Luhn mod N over the body (N = 32): the character that makes the whole code check."""
    n = len(ALPHABET)
    factor, total = 2, 0
    for char in reversed(body):
        addend = factor * _VALUE[char]
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return ALPHABET[(n - total % n) % n]


def valid(code: str) -> bool:
    """Whether a normalised code (see `normalise`) has a correct check character."""
    n = len(ALPHABET)
    factor, total = 1, 0
    for char in reversed(code):
        if char not in _VALUE:
            return False
        addend = factor * _VALUE[char]
        factor = 1 if factor == 2 else 2
        total += addend // n + addend % n
    return len(code) == BODY + 1 and total % n == 0


def generate() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY))
    return body + check_character(body)


def normalise(text: str) -> str:
    """What a customer typed, as stored: upper case, without dashes and spaces."""
    return text.replace("-", "").replace(" ", "").upper()


def display(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))
