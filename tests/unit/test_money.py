from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bank_common import schema
from bank_common.errors import InvalidAmount, ValidationFailed
from bank_common.money import MAX_FEN, Amount, AmountError, format_fen, parse_amount


@pytest.mark.parametrize(("text", "fen"), [("0.01", 1), ("1", 100), ("1.5", 150), ("125.50", 12550),
                                           ("10000.00", 1_000_000)])
def test_parse(text: str, fen: int) -> None:
    assert parse_amount(text) == fen


@pytest.mark.parametrize("bad", [1.5, 1, True, None, "", "0", "0.00", "-1.00", "1.001", "01.00", "1e2", " 1.00",
                                 "1,00", "+1.00", ".5", "1.", "NaN", "１.00", "10000000000000.00"])
def test_reject(bad: object) -> None:
    with pytest.raises(AmountError):
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


class Body(schema.Strict):
    amount: Amount
    memo: str = ""


class Out(schema.Out):
    balance: schema.MoneyText


@pytest.mark.parametrize("bad", [2.5, 250, "2.505", None, "-1.00"])
def test_schema_amount_errors_are_invalid_amount(bad: object) -> None:
    assert schema.decode({"amount": "2.50"}, Body).amount == 250
    with pytest.raises(InvalidAmount) as info:
        schema.decode({"amount": bad}, Body)
    assert info.value.details[0]["field"] == "amount"


def test_other_schema_errors_name_the_field() -> None:
    with pytest.raises(ValidationFailed) as info:
        schema.decode({"amount": "1.00", "memo": 5}, Body)
    assert info.value.details == [{"field": "memo", "problem": "Expected `str`, got `int`"}]
    with pytest.raises(ValidationFailed) as info:
        schema.decode({"amount": "1.00", "extra": 1}, Body)
    assert info.value.details[0]["field"] == "extra"
    with pytest.raises(ValidationFailed) as info:
        schema.decode({}, Body)
    assert info.value.details[0]["field"] == "amount"


def test_money_schemas() -> None:
    assert schema.to_builtins(Out(balance=format_fen(12550))) == {"balance": "125.50"}
    components = schema.json_schemas([Body, Out])
    assert components["Body"]["properties"]["amount"]["type"] == "string"
    assert components["Body"]["additionalProperties"] is False
