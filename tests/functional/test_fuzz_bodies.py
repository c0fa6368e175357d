"""Generated request bodies on every POST route: whatever arrives, the answer is a success or a JSON 4xx
with a stable code — never a 500 — and money is conserved across all of it.

Bodies are arbitrary JSON values and "near-valid" objects: the route's own field names (and a stray one)
holding values of every JSON type, including the real account numbers and well-formed amounts, so some
requests get through and move money.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.functional.conftest import table_items
from tests.support.api import Api, new_key

ERROR_CODE = re.compile(r"^[A-Z][A-Z0-9_]+$")
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def world(api: Api, teller: str, new_mobile) -> dict[str, Any]:
    alice, a = api.customer_with_account(new_mobile())
    bob, b = api.customer_with_account(new_mobile())
    assert api.deposit(teller, a, "300.00").status == 201
    return {"alice": alice, "a": a, "bob": bob, "b": b, "teller": teller, "mobile": new_mobile()}


def near_valid(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """The route's fields with plausible values; or with one of them replaced by any JSON value, or
    missing; or with an unexpected field added."""
    base = st.fixed_dictionaries(fields)

    def replace_one(body: dict) -> st.SearchStrategy:
        return st.sampled_from(sorted(body)).flatmap(lambda k: json_values.map(lambda v: {**body, k: v}))

    def drop_one(body: dict) -> st.SearchStrategy:
        return st.sampled_from(sorted(body)).map(lambda k: {n: v for n, v in body.items() if n != k})

    return st.one_of(base, base.flatmap(replace_one), base.flatmap(drop_one),
                     base.flatmap(lambda body: json_values.map(lambda v: {**body, "unexpected": v})))


def check(r: Any) -> None:
    assert r.status < 500, r.body
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    if r.status >= 400:
        assert isinstance(r.body, dict) and ERROR_CODE.match(r.code or ""), r.body
        assert r.body["error"]["request_id"]


def total_balance(aws: dict[str, str]) -> int:
    # Every account, the bank's GL accounts included (the table also holds one-per-type claim markers).
    return sum(int(i["balance"]["N"]) for i in table_items(aws, "ACCOUNTS_TABLE") if "balance" in i)


def amounts() -> st.SearchStrategy:
    return st.sampled_from(["1.00", "0.01", "250.5", "0", "-1", "1e2", "９.00"]) | st.decimals(
        min_value=0, max_value=10**6, places=2).map(str)


def test_transfers_and_deposits(api: Api, world: dict[str, Any], aws) -> None:
    accounts = st.sampled_from([world["a"], world["b"], "6230910000000000000", "GL-1001-CASH", ""])
    transfer_body = near_valid({"from_account": accounts, "to_account": accounts, "amount": amounts(),
                                "memo": st.text(max_size=145)})
    deposit_body = near_valid({"account_id": accounts, "amount": amounts(), "memo": st.text(max_size=150)})
    before = total_balance(aws)

    @FUZZ
    @given(body=transfer_body | json_values, payer=st.sampled_from(["alice", "bob"]))
    def transfers(body: Any, payer: str) -> None:
        check(api.call("POST", "/v1/account/transfers", body, token=world[payer], key=new_key()))

    transfers()
    @FUZZ
    @given(body=deposit_body | json_values)
    def counted_deposits(body: Any) -> None:
        r = api.call("POST", "/v1/ops/deposits", body, token=world["teller"], channel="web", key=new_key())
        check(r)

    counted_deposits()
    # Transfers move money between customers; a deposit moves it from the bank's cash GL account: the
    # sum over all accounts (GL included) never changes.
    assert total_balance(aws) == before


@pytest.mark.parametrize(("path", "channel", "fields"), [
    ("/v1/user/customers", "app", {"mobile": st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
                                   "password": st.text(min_size=6, max_size=70)}),
    ("/v1/auth/login", "app", {"mobile": st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
                               "password": st.text(max_size=130)}),
    ("/v1/auth/staff/login", "web", {"username": st.from_regex(r"[a-z][a-z0-9_.-]{2,31}", fullmatch=True),
                                     "password": st.text(max_size=130)}),
    ("/v1/account/accounts", "app", {"type": st.sampled_from(["I", "II", "III", "IV", "ii"])}),
])
def test_other_routes(api: Api, world: dict[str, Any], path: str, channel: str, fields: dict) -> None:
    token = world["alice"] if path == "/v1/account/accounts" else None

    @FUZZ
    @given(body=near_valid(fields) | json_values)
    def run(body: Any) -> None:
        check(api.call("POST", path, body, token=token, channel=channel))

    run()


def test_raw_bytes_are_a_json_4xx(api: Api, world: dict[str, Any]) -> None:
    @FUZZ
    @given(raw=st.binary(max_size=40) | st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")))
    def run(raw: bytes) -> None:
        r = api.call("POST", "/v1/account/transfers", raw=raw, token=world["alice"], key=new_key())
        check(r)
        if r.status < 400:
            json.loads(raw)  # only a parseable body can have succeeded

    run()

