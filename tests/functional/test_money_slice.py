"""The first vertical slice through the API, on moto: register, login, open, deposit, transfer."""

from __future__ import annotations

from tests.support.api import Api, new_key


def test_register_login_open_deposit_transfer(api: Api, teller: str, new_mobile) -> None:
    alice, alice_acct = api.customer_with_account(new_mobile())
    bob, bob_acct = api.customer_with_account(new_mobile())
    assert api.deposit(teller, alice_acct, "1000.00").status == 201
    r = api.transfer(alice, alice_acct, bob_acct, "125.50", memo="rent")
    assert r.status == 201, r.body
    assert r.body["status"] == "completed" and r.body["amount"] == "125.50" and r.body["balance_after"] == "874.50"
    assert api.balance(alice, alice_acct) == "874.50"
    assert api.balance(bob, bob_acct) == "125.50"
    statement = api.call("GET", f"/v1/account/accounts/{alice_acct}/statement", token=alice).body
    assert [(e["direction"], e["amount"], e["balance_after"]) for e in statement["items"]] == [
        ("debit", "125.50", "874.50"), ("credit", "1000.00", "1000.00")]


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
