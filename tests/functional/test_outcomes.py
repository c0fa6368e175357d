"""An Idempotency-Key's outcome is final (decision 0020): a refusal by a business rule is recorded like a
success and replayed to every retry, even after the world changed; only answers that decided nothing may be
retried to another outcome."""

from __future__ import annotations

import pytest

from tests.support import pumps
from tests.support.api import Api, new_key

pytestmark = pytest.mark.usefixtures("no_step_up")  # amounts past the step-up threshold: other rules


def same_error(a, b) -> bool:
    """The same answer (but for the request id, which is each request's own)."""
    strip = {"request_id"}
    return a.status == b.status and {k: v for k, v in a.body["error"].items() if k not in strip} == \
        {k: v for k, v in b.body["error"].items() if k not in strip}


def test_a_refusal_for_funds_stays_refused_after_money_arrives(api: Api, teller: str, new_mobile) -> None:
    alice, a = api.customer_with_account(new_mobile())
    _, b = api.customer_with_account(new_mobile())
    key = new_key()
    first = api.transfer(alice, a, b, "50.00", key=key)
    assert first.status == 422 and first.code == "INSUFFICIENT_FUNDS"
    assert api.deposit(teller, a, "100.00").status == 201  # now the money is there
    again = api.transfer(alice, a, b, "50.00", key=key)
    assert again.status == 422 and again.body["error"]["code"] == "INSUFFICIENT_FUNDS"
    assert again.body["error"]["message"] == first.body["error"]["message"]
    assert api.balance(alice, a) == "100.00"  # the retry moved nothing
    # The same key for another request is a reuse, whatever the first outcome was.
    other = api.transfer(alice, a, b, "10.00", key=key)
    assert other.status == 422 and other.code == "IDEMPOTENCY_KEY_REUSED"
    # A new key is a new attempt.
    assert api.transfer(alice, a, b, "50.00").status == 201


def test_limit_and_payee_refusals_are_replayed_too(api: Api, teller: str, ops: str, new_mobile) -> None:
    rich, src = api.rich_customer(teller, new_mobile(), "12000.00")
    _, b = api.customer_with_account(new_mobile())
    limit_key = new_key()
    over = api.transfer(rich, src, b, "10000.01", key=limit_key)  # over the Type II daily outflow cap
    assert over.status == 422 and over.code == "LIMIT_EXCEEDED"
    assert same_error(api.transfer(rich, src, b, "10000.01", key=limit_key), over)
    # A payee that cannot receive (frozen), then unfrozen: the key keeps its refusal.
    assert api.ops(ops, b, "freeze").status == 200
    payee_key = new_key()
    refused = api.transfer(rich, src, b, "5.00", key=payee_key)
    assert refused.status == 422 and refused.code == "PAYEE_CANNOT_RECEIVE"
    assert api.ops(ops, b, "unfreeze").status == 200
    assert same_error(api.transfer(rich, src, b, "5.00", key=payee_key), refused)
    assert api.transfer(rich, src, b, "5.00").status == 201


def test_a_missing_agreement_is_a_decided_refusal(api: Api, teller: str, new_mobile) -> None:
    alice, a = api.customer_with_account(new_mobile())
    _, b = api.customer_with_account(new_mobile())
    assert api.deposit(teller, a, "20.00").status == 201
    agreement = api.call("GET", "/v1/contract/agreements", token=alice).body["items"][0]
    revoked = api.call("POST", f"/v1/contract/agreements/{agreement['agreement_id']}/revocation", token=alice)
    assert revoked.status == 200, revoked.body
    key = new_key()
    refused = api.transfer(alice, a, b, "1.00", key=key)
    assert refused.status == 422 and refused.code == "AGREEMENT_REQUIRED"
    api.sign_eaccount(alice)
    assert api.transfer(alice, a, b, "1.00", key=key).code == "AGREEMENT_REQUIRED"
    assert api.transfer(alice, a, b, "1.00").status == 201


def test_bad_input_is_not_an_outcome(api: Api, teller: str, new_mobile) -> None:
    """A request refused for its shape decided nothing: the same key may then carry a good request."""
    alice, a = api.customer_with_account(new_mobile())
    _, b = api.customer_with_account(new_mobile())
    assert api.deposit(teller, a, "20.00").status == 201
    key = new_key()
    bad = api.call("POST", "/v1/account/transfers", {"from_account": a, "to_account": b, "amount": "1.001"},
                   token=alice, key=key)
    assert bad.status == 400 and bad.code == "INVALID_AMOUNT"
    assert api.transfer(alice, a, b, "1.00", key=key).status == 201


def test_deposits_keep_their_refusals(api: Api, teller: str, new_mobile) -> None:
    _, iii = api.customer_with_account(new_mobile(), "III")
    key = new_key()
    over = api.deposit(teller, iii, "2000.01", key=key)
    assert over.status == 422 and over.code == "BALANCE_CAP_REACHED"
    assert same_error(api.deposit(teller, iii, "2000.01", key=key), over)


def test_hold_refusals_are_replayed(api: Api, runtime, new_mobile) -> None:
    token, account = api.customer_with_account(new_mobile())
    customer = api.call("GET", "/v1/account/accounts", token=token)  # (the customer id is the token's subject)
    assert customer.status == 200
    from tests.support.api import subject_of

    refused = pumps.hold(runtime, subject_of(token), account, "10.00", key="order-0001")
    assert not refused["ok"] and refused["error"]["code"] == "INSUFFICIENT_FUNDS"
    again = pumps.hold(runtime, subject_of(token), account, "10.00", key="order-0001")
    assert again == refused
    reused = pumps.hold(runtime, subject_of(token), account, "11.00", key="order-0001")
    assert reused["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


@pytest.mark.parametrize("path", ["/v1/account/transfers", "/v1/account/outbound-transfers", "/v1/ops/deposits",
                                  "/v1/ops/reversals"])
def test_the_rule_is_in_the_document(api: Api, path: str) -> None:
    doc = api.call("GET", "/v1/openapi.json", channel=None).body
    description = doc["paths"][path]["post"]["description"]
    assert "an outcome, once decided, is final" in description and "CONCURRENT_UPDATE" in description
