"""Step-up on the money path, asserted the same way in-process (functional) and over HTTP against the local
run (integration): a transfer from the threshold (5,000.00) needs a step-up token for its exact request,
spent once, in the same transaction as the money (docs/decisions/0017)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from tests.support.api import Api, new_key
from tests.support.identity import Tables


def request(src: str, dst: str, amount: str) -> dict[str, str]:
    return {"operation": "transfer", "from_account": src, "to_account": dst, "amount": amount}


def check_step_up_transfers(api: Api, teller: str, mobiles: Callable[[], str], tables: Tables) -> None:
    mobile = mobiles()
    payer, src = api.rich_customer(teller, mobile, "12000.00")
    receiver, dst = api.customer_with_account(mobiles())
    _, other = api.customer_with_account(mobiles())
    # At the threshold without a token: 403, and nothing decided under the key.
    key = new_key()
    needed = api.transfer(payer, src, dst, "5000.00", key=key)
    assert needed.status == 403 and needed.code == "STEP_UP_REQUIRED", needed.body
    tables.cooldown_over(mobile)  # the step-up that made them rich texted a code a moment ago
    token = api.step_up(payer, mobile, request(src, dst, "5000.00"))
    # Not this token's request: another amount, another payee.
    assert api.transfer(payer, src, dst, "5000.01", step_up=token).code == "STEP_UP_INVALID"
    assert api.transfer(payer, src, other, "5000.00", step_up=token).code == "STEP_UP_INVALID"
    # The retry under the same key, with the token: it passes, once.
    paid = api.transfer(payer, src, dst, "5000.00", key=key, step_up=token)
    assert paid.status == 201, paid.body
    again = api.transfer(payer, src, dst, "5000.00", key=key, step_up=token)  # its own retry: replayed
    assert again.status == 201 and again.body["transfer_id"] == paid.body["transfer_id"]
    reused = api.transfer(payer, src, dst, "5000.00", step_up=token)  # another transfer, the same token
    assert reused.status == 409 and reused.code == "STEP_UP_ALREADY_USED", reused.body
    assert api.balance(payer, src) == "7000.00"  # nothing else moved
    # Below the threshold: no step-up.
    assert api.transfer(receiver, dst, other, "4999.99").status == 201


def check_one_token_one_transfer_in_a_race(api: Api, teller: str, mobiles: Callable[[], str],
                                           tables: Tables) -> None:
    """8 transfers racing with one token (8 keys): exactly one moves money. Two would fit every cap (the Type II
    daily outflow cap is 10,000.00), so only the token's single use stops the second."""
    mobile = mobiles()
    payer, src = api.rich_customer(teller, mobile, "12000.00")
    _, dst = api.customer_with_account(mobiles())
    tables.cooldown_over(mobile)  # the step-up that made them rich texted a code a moment ago
    token = api.step_up(payer, mobile, request(src, dst, "5000.00"))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: api.transfer(payer, src, dst, "5000.00", step_up=token), range(8)))
    codes = sorted((a.status, a.code) for a in answers)
    assert [a.status for a in answers].count(201) == 1, codes
    assert all(a.status == 201 or a.code == "STEP_UP_ALREADY_USED" for a in answers), codes
    assert api.balance(payer, src) == "7000.00"
