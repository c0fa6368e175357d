"""Generated request bodies on every POST route: whatever arrives, the answer is a success or a JSON 4xx
with a stable code — never a 500 — and money is conserved across all of it.

Bodies are arbitrary JSON values and "near-valid" objects: the route's own field names (and a stray one)
holding values of every JSON type, including the real account numbers, well-formed amounts and a real
login, so some requests get through and move money: each test asserts that some did (the examples are
derandomized, so the count is the same on every run).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.functional.conftest import STAFF_PASSWORD, STAFF_USER, table_items
from tests.support.api import PASSWORD, Api, binding, device_of, new_key

ERROR_CODE = re.compile(r"^[A-Z][A-Z0-9_]+$")
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
FUZZ = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


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


def check(r: Any) -> int:
    assert r.status < 500, r.body
    assert r.headers.get("content-type", "").startswith("application/json"), r.headers
    if r.status >= 400:
        assert isinstance(r.body, dict) and ERROR_CODE.match(r.code or ""), r.body
        assert r.body["error"]["request_id"]
    return int(r.status)


def total_balance(aws: dict[str, str]) -> int:
    # Every account, the bank's GL accounts included (the table also holds per-type account counters), and
    # the postings still in the journal (the GL accounts' are folded later).
    return sum(int(i["balance"]["N"]) for i in table_items(aws, "ACCOUNTS_TABLE") if "balance" in i) + \
        sum(int(i["amount"]["N"]) for i in table_items(aws, "JOURNAL_TABLE"))


def amounts() -> st.SearchStrategy:
    return st.sampled_from(["1.00", "0.01", "250.5", "0", "-1", "1e2", "９.00"]) | st.decimals(
        min_value=0, max_value=10**6, places=2).map(str)


def test_transfers_and_deposits(api: Api, world: dict[str, Any], aws) -> None:
    accounts = st.sampled_from([world["a"], world["b"], "6230910000000000000", "GL-1001-CASH", ""])
    transfer_body = near_valid({"from_account": accounts, "to_account": accounts, "amount": amounts(),
                                "memo": st.text(max_size=145)})
    deposit_body = near_valid({"account_id": accounts, "amount": amounts(), "memo": st.text(max_size=150)})
    before = total_balance(aws)
    succeeded: list[str] = []

    valid_transfer = st.tuples(st.fixed_dictionaries({
        "from_account": st.just(world["a"]), "to_account": st.just(world["b"]),
        "amount": st.sampled_from(["1.00", "0.01", "2.5"])}), st.just("alice"))
    generated = st.tuples(transfer_body | json_values, st.sampled_from(["alice", "bob"]))

    @FUZZ
    @given(request=valid_transfer | generated)
    def transfers(request: tuple[Any, str]) -> None:
        body, payer = request
        if check(api.call("POST", "/v1/account/transfers", body, token=world[payer], key=new_key())) < 300:
            succeeded.append("transfer")

    transfers()

    valid_deposit = st.fixed_dictionaries({"account_id": st.sampled_from([world["a"], world["b"]]),
                                           "amount": st.sampled_from(["1.00", "20.00"])})

    @FUZZ
    @given(body=valid_deposit | deposit_body | json_values)
    def counted_deposits(body: Any) -> None:
        r = api.call("POST", "/v1/ops/deposits", body, token=world["teller"], channel="web", key=new_key())
        if check(r) < 300:
            succeeded.append("deposit")

    counted_deposits()
    assert succeeded.count("transfer") > 0 and succeeded.count("deposit") > 0, succeeded
    # Transfers move money between customers; a deposit moves it from the bank's cash GL account: the
    # sum over all accounts (GL included) never changes.
    assert total_balance(aws) == before


def mobiles() -> st.SearchStrategy:
    return st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True) | st.just(KNOWN_MOBILE)


def passwords(size: int) -> st.SearchStrategy:
    return st.text(min_size=6, max_size=size) | st.sampled_from([PASSWORD, "Fuzz-passw0rd-1"])


KNOWN_MOBILE = "13912345670"
# (path, channel, the route's fields with plausible values, a body that should succeed)
ROUTES = [
    ("/v1/user/customers", "app", lambda: {"mobile": mobiles(), "password": passwords(70)},
     lambda: st.fixed_dictionaries({"mobile": st.from_regex(r"13[0-9]{9}", fullmatch=True),
                                    "password": st.just("Fuzz-passw0rd-1")})),
    ("/v1/auth/login", "app", lambda: {"mobile": mobiles(), "password": passwords(130)},
     lambda: st.just({"mobile": KNOWN_MOBILE, "password": PASSWORD})),
    ("/v1/auth/staff/login", "web", lambda: {"username": st.from_regex(r"[a-z][a-z0-9_.-]{2,31}", fullmatch=True)
                                             | st.just(STAFF_USER), "password": passwords(130)},
     lambda: st.just({"username": STAFF_USER, "password": STAFF_PASSWORD})),
    ("/v1/account/accounts", "app", lambda: {"type": st.sampled_from(["I", "II", "III", "IV", "ii"]),
                                             "binding": st.just(binding()) | json_values},
     lambda: st.just({"type": "III", "binding": binding()})),
]


@pytest.mark.parametrize(("path", "channel", "fields", "valid"), ROUTES, ids=[r[0] for r in ROUTES])
def test_other_routes(api: Api, world: dict[str, Any], path: str, channel: str, fields: Any, valid: Any,
                      new_mobile: Any) -> None:
    token = world["alice"] if path == "/v1/account/accounts" else None
    api.register(KNOWN_MOBILE)
    succeeded = []
    # A registration succeeds only with a code texted to its number: valid bodies come with one.
    valid_bodies = st.just(0).map(lambda _: api.registration(new_mobile(), "Fuzz-passw0rd-1")) \
        if path == "/v1/user/customers" else valid()
    # Logins come from the customer's bound device; a token's calls from the device it is bound to.
    device = {} if token else {"X-Device-Id": device_of(KNOWN_MOBILE) if path == "/v1/auth/login" else "fz"}

    @FUZZ
    @given(body=valid_bodies | near_valid(fields()) | json_values)
    def run(body: Any) -> None:
        if check(api.call("POST", path, body, token=token, channel=channel, headers=device)) < 300:
            succeeded.append(body)

    run()
    assert succeeded, f"no generated request to {path} succeeded: the test would prove nothing"


def test_raw_bytes_are_a_json_4xx(api: Api, world: dict[str, Any]) -> None:
    @FUZZ
    @given(raw=st.binary(max_size=40) | st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass")))
    def run(raw: bytes) -> None:
        r = api.call("POST", "/v1/account/transfers", raw=raw, token=world["alice"], key=new_key())
        check(r)
        if r.status < 400:
            json.loads(raw)  # only a parseable body can have succeeded

    run()

