from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from bank_common.errors import InvalidAmount, to_api_error
from bank_common.money import MAX_FEN, Amount, MoneyOut, format_fen, parse_amount


@pytest.mark.parametrize(("text", "fen"), [("0.01", 1), ("1", 100), ("1.5", 150), ("125.50", 12550),
                                           ("10000.00", 1_000_000)])
def test_parse(text: str, fen: int) -> None:
    assert parse_amount(text) == fen


@pytest.mark.parametrize("bad", [1.5, 1, True, None, "", "0", "0.00", "-1.00", "1.001", "01.00", "1e2", " 1.00",
                                 "1,00", "+1.00", ".5", "1.", "NaN", "１.00", "10000000000000.00"])
def test_reject(bad: object) -> None:
    with pytest.raises(Exception):  # noqa: B017 - PydanticCustomError
        parse_amount(bad)


@given(st.integers(min_value=1, max_value=MAX_FEN - 1))
def test_round_trip(fen: int) -> None:
    assert parse_amount(format_fen(fen)) == fen


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_format_has_two_places(fen: int) -> None:
    text = format_fen(fen)
    assert text.split(".")[1].__len__() == 2 and (text.startswith("-") == (fen < 0))


def test_format_refuses_non_int() -> None:
    with pytest.raises(TypeError):
        format_fen(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        format_fen(True)


class Body(BaseModel):
    amount: Amount


class Out(BaseModel):
    balance: MoneyOut


def test_pydantic_types_map_to_invalid_amount() -> None:
    assert Body.model_validate({"amount": "2.50"}).amount == 250
    with pytest.raises(ValidationError) as info:
        Body.model_validate({"amount": 2.5})
    assert isinstance(to_api_error(info.value), InvalidAmount)
    assert Out(balance=12550).model_dump(mode="json") == {"balance": "125.50"}
    assert Body.model_json_schema()["properties"]["amount"]["type"] == "string"
