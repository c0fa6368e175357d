"""GB 11643-1999 ID numbers and card validity (user_center.idcard)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from user_center import idcard


def test_known_numbers() -> None:
    parsed = idcard.parse("440524198701010014")
    assert parsed.birth_date == date(1987, 1, 1) and parsed.region == "440524" and parsed.male
    assert idcard.parse("11010519491231002x").value == "11010519491231002X"  # lower-case x is the same check
    with_check = [first17 + idcard.check_character(first17) for first17 in ("44052419870230001", "44052423000101001")]
    for bad, why in (("440524198701010015", "check"), ("44052419870101001", "shape"), (with_check[0], "date"),
                     (with_check[1], "plausible"), ("040524198701010014", "shape"), ("44052419870101001Y", "shape")):
        with pytest.raises(idcard.InvalidIdNumber, match=why):
            idcard.parse(bad, today=date(2026, 11, 28))


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2026, 11, 28)), st.integers(0, 999),
       st.integers(110000, 659999))
def test_every_number_with_its_check_character_parses(born: date, sequence: int, region: int) -> None:
    first17 = f"{region}{born:%Y%m%d}{sequence:03d}"
    number = first17 + idcard.check_character(first17)
    assert idcard.parse(number, today=date(2026, 11, 28)).birth_date == born
    wrong = idcard.CHECK[(idcard.CHECK.index(number[-1]) + 1) % 11]
    with pytest.raises(idcard.InvalidIdNumber):
        idcard.parse(first17 + wrong, today=date(2026, 11, 28))


def test_expiry_forms() -> None:
    assert idcard.expiry("2010.07.21-2030.07.21") == date(2030, 7, 21)
    assert idcard.expiry("2030-07-21") == date(2030, 7, 21) and idcard.expiry("20300721") == date(2030, 7, 21)
    assert idcard.expiry("2010.07.21-长期") is None and idcard.expiry("长期") is None
    assert idcard.valid_on(None) and idcard.valid_on(date(2030, 1, 1), today=date(2029, 12, 31))
    assert not idcard.valid_on(date(2020, 1, 1), today=date(2026, 1, 1))
    with pytest.raises(ValueError):
        idcard.expiry("soon")
