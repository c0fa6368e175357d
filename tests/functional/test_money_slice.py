"""The first vertical slice through the API, on moto: register, login, open, deposit, transfer."""

from __future__ import annotations

from tests.support.api import Api, check_first_slice, new_key


def test_register_login_open_deposit_transfer(api: Api, teller: str, new_mobile) -> None:
    check_first_slice(api, teller, new_mobile)


def test_same_key_replays_and_other_body_is_422(api: Api, teller: str, new_mobile) -> None:
    alice, a = api.customer_with_account(new_mobile())
    _, b = api.customer_with_account(new_mobile())
    api.deposit(teller, a, "100.00")
    key = new_key()
    first = api.transfer(alice, a, b, "10.00", key=key)
    again = api.transfer(alice, a, b, "10.00", key=key)
    assert first.status == again.status == 201 and first.body == again.body
    other = api.transfer(alice, a, b, "11.00", key=key)
    assert other.status == 422 and other.code == "IDEMPOTENCY_KEY_REUSED"
    assert api.balance(alice, a) == "90.00"
