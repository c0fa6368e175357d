"""Mainland resident identity card numbers (GB 11643-1999) and card validity.

18 characters: a 6-digit administrative division code, the birth date YYYYMMDD, a 3-digit sequence (odd for
men, even for women), and a check character: the ISO 7064 MOD 11-2 checksum of the first 17 digits
(weights 2^(17-i) mod 11, i.e. 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2; the remainder maps to 1 0 X 9 8 7 6 5 4 3 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
SHAPE = re.compile(r"[1-9][0-9]{16}[0-9X]")
LONG_TERM = ("长期", "LONG-TERM", "long-term")


class InvalidIdNumber(ValueError):
    pass


@dataclass(frozen=True)
class IdNumber:
    value: str
    birth_date: date
    region: str

    @property
    def male(self) -> bool:
        return int(self.value[16]) % 2 == 1


def check_character(first17: str) -> str:
    return CHECK[sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True)) % 11]


def parse(raw: str, today: date | None = None) -> IdNumber:
    """A valid ID number (upper-case X), or InvalidIdNumber saying why."""
    value = raw.strip().upper()
    if not SHAPE.fullmatch(value):
        raise InvalidIdNumber("not 18 characters of the right shape")
    if check_character(value[:17]) != value[17]:
        raise InvalidIdNumber("the check character does not match (GB 11643)")
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError as exc:
        raise InvalidIdNumber("the birth date is not a date") from exc
    today = today or date.today()
    if born.year < 1900 or born > today:
        raise InvalidIdNumber("the birth date is not plausible")
    return IdNumber(value, born, value[:6])


def expiry(raw: str, today: date | None = None) -> date | None:
    """The card's last valid day (None: long-term), from '2030.01.01', '2030-01-01', '20300101' or the
    back side's range '2010.01.01-2030.01.01'; ValueError if unreadable."""
    text = raw.strip()
    if "-" in text and len(text) > 10:
        text = text.rsplit("-", 1)[1]
    if text in LONG_TERM:
        return None
    digits = re.sub(r"[^0-9]", "", text)
    if len(digits) != 8:
        raise ValueError(f"unreadable expiry {raw!r}")
    return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))


def valid_on(card_expiry: date | None, today: date | None = None) -> bool:
    return card_expiry is None or card_expiry >= (today or date.today())
