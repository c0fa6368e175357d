"""Regression: a JSON string escape of half a UTF-16 pair ("\\ud800") is not text, and a request carrying one
is a 400 MALFORMED_JSON on every route, before anything runs.

It used to get through: json.loads turns the escape into a lone surrogate, which the schemas accept. A login
with such a password was a 500 (argon2 cannot encode it), and a transfer or deposit with such a memo was
committed, after which the account's statement could no longer be served (the entry cannot be encoded as
UTF-8), for the payer and the payee alike. A valid pair (an emoji) is text and stays accepted.
"""

from __future__ import annotations

import json

import pytest

from tests.functional.conftest import STAFF_PASSWORD, STAFF_USER, table_items
from tests.support.api import PASSWORD, Api, new_key

LONE = ["\\ud800", "\\udfff", "a\\ud83db", "\\ude00\\ud83d"]  # JSON escapes, sent as written


def raw_body(fields: dict[str, str], escaped_field: str, escape: str) -> str:
    """The fields as JSON, with `escape` (a JSON escape sequence, not a character) inside one string."""
    text = json.dumps({**fields, escaped_field: "MARK"})
    return text.replace('"MARK"', f'"{escape}"')


def assert_malformed(r) -> None:
    assert r.status == 400, r.body
    assert r.code == "MALFORMED_JSON", r.body


@pytest.mark.parametrize("escape", LONE)
def test_money_moving_memos_with_a_lone_surrogate_are_refused(api: Api, teller: str, new_mobile, aws,
                                                             escape: str) -> None:
    alice, a = api.customer_with_account(new_mobile())
    bob, b = api.customer_with_account(new_mobile())
    assert api.deposit(teller, a, "100.00").status == 201
    ledger = len(table_items(aws, "LEDGER_TABLE"))
    transfer = raw_body({"from_account": a, "to_account": b, "amount": "1.00"}, "memo", escape)
    assert_malformed(api.call("POST", "/v1/account/transfers", raw=transfer, token=alice, key=new_key()))
    deposit = raw_body({"account_id": a, "amount": "1.00"}, "memo", escape)
    assert_malformed(api.call("POST", "/v1/ops/deposits", raw=deposit, token=teller, channel="web", key=new_key()))
    assert len(table_items(aws, "LEDGER_TABLE")) == ledger
    assert api.balance(alice, a) == "100.00" and api.balance(bob, b) == "0.00"
    for token, account in ((alice, a), (bob, b)):
        statement = api.call("GET", f"/v1/account/accounts/{account}/statement", token=token)
        assert statement.status == 200, statement.body


@pytest.mark.parametrize("escape", LONE)
def test_logins_and_registration_with_a_lone_surrogate_are_400_not_500(api: Api, new_mobile, escape: str) -> None:
    mobile = new_mobile()
    api.register(mobile)
    for body in (raw_body({"mobile": mobile}, "password", escape),  # a customer who exists
                 raw_body({"mobile": new_mobile()}, "password", escape)):  # and one who does not
        assert_malformed(api.call("POST", "/v1/auth/login", raw=body))
    assert_malformed(api.call("POST", "/v1/auth/staff/login", raw=raw_body({"username": STAFF_USER}, "password",
                                                                          escape), channel="web"))
    assert_malformed(api.call("POST", "/v1/user/customers", raw=raw_body({"password": PASSWORD}, "mobile", escape)))
    # Refused before the lockout counts an attempt: both still log in.
    assert api.login(mobile)
    assert api.staff_login(STAFF_USER, STAFF_PASSWORD)


def test_a_surrogate_sent_as_raw_bytes_is_refused_too(api: Api, teller: str, new_mobile) -> None:
    """json.loads reads bytes with "surrogatepass", so CESU-style bytes (ED A0 80) decode to a lone surrogate."""
    alice, a = api.customer_with_account(new_mobile())
    _, b = api.customer_with_account(new_mobile())
    assert api.deposit(teller, a, "10.00").status == 201
    body = raw_body({"from_account": a, "to_account": b, "amount": "1.00"}, "memo", "MEMO").encode()
    assert_malformed(api.call("POST", "/v1/account/transfers", raw=body.replace(b"MEMO", b"\xed\xa0\x80"),
                              token=alice, key=new_key()))
    assert api.balance(alice, a) == "10.00"


def test_a_valid_surrogate_pair_is_text(api: Api, teller: str, new_mobile) -> None:
    alice, a = api.customer_with_account(new_mobile())
    _, b = api.customer_with_account(new_mobile())
    assert api.deposit(teller, a, "10.00").status == 201
    body = raw_body({"from_account": a, "to_account": b, "amount": "1.00"}, "memo", "rent \\ud83d\\ude00")
    r = api.call("POST", "/v1/account/transfers", raw=body, token=alice, key=new_key())
    assert r.status == 201, r.body
    assert r.body["memo"] == "rent \U0001f600"
    items = api.call("GET", f"/v1/account/accounts/{a}/statement", token=alice).body["items"]
    assert items[0]["memo"] == "rent \U0001f600"
