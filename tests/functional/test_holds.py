"""Holds for other centers (the account center's internal function): hold → capture (all or part) or release,
each idempotent, each with an expiry that the sweeper enforces; available = balance - active holds; holds
reserve limit usage and releases give it back."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.support import pumps
from tests.support.api import Api, subject_of
from tests.support.pumps import hold, internal, ok


@pytest.fixture
def shopper(api: Api, teller: str, new_mobile) -> dict[str, Any]:
    token, account = api.customer_with_account(new_mobile())
    assert api.deposit(teller, account, "1000.00").status == 201
    _, merchant = api.customer_with_account(new_mobile(), "II")
    return {"token": token, "customer": subject_of(token), "account": account, "merchant": merchant}


def account(api: Api, token: str, account_id: str) -> dict[str, Any]:
    r = api.call("GET", f"/v1/account/accounts/{account_id}", token=token)
    assert r.status == 200, r.body
    return dict(r.body)


def usage_of(account_id: str) -> dict[str, tuple[int, int]]:
    return {i["pk"]["S"]: (int(i["amount"]["N"]), int(i["txn_count"]["N"])) for i in pumps.table("LIMIT_USAGE_TABLE")
            if i["pk"]["S"].startswith(f"ACCT#{account_id}#OUT#")}


def test_hold_reserves_money_and_limits_and_release_gives_them_back(api: Api, runtime, shopper) -> None:
    held = ok(hold(runtime, shopper["customer"], shopper["account"], "300.00", key="order-00001"))
    assert held["status"] == "active" and held["amount"] == "300.00" and held["hold_id"].startswith("H")
    view = account(api, shopper["token"], shopper["account"])
    assert (view["balance"], view["held"], view["available"]) == ("1000.00", "300.00", "700.00")
    assert {v for v in usage_of(shopper["account"]).values()} == {(300_00, 1)}  # Type II outflow, day and year
    # The money held is not available to anyone else.
    r = api.transfer(shopper["token"], shopper["account"], shopper["merchant"], "700.01")
    assert r.status == 422 and r.code == "INSUFFICIENT_FUNDS"
    # A retry of the hold is the same hold.
    assert ok(hold(runtime, shopper["customer"], shopper["account"], "300.00", key="order-00001")) == held
    released = ok(internal(runtime, "release", hold_id=held["hold_id"], account_id=shopper["account"]))
    assert released["status"] == "released" and released["amount"] == "300.00"
    assert ok(internal(runtime, "release", hold_id=held["hold_id"], account_id=shopper["account"])) == released
    view = account(api, shopper["token"], shopper["account"])
    assert (view["balance"], view["held"], view["available"]) == ("1000.00", "0.00", "1000.00")
    assert {v for v in usage_of(shopper["account"]).values()} == {(0, 0)}


def test_partial_capture_pays_part_and_releases_the_rest(api: Api, runtime, shopper) -> None:
    held = ok(hold(runtime, shopper["customer"], shopper["account"], "300.00", key="order-00002",
                   destination=shopper["merchant"]))
    captured = ok(internal(runtime, "capture", hold_id=held["hold_id"], account_id=shopper["account"],
                           destination=shopper["merchant"], amount="120.00"))
    assert (captured["status"], captured["amount"], captured["released"]) == ("captured", "120.00", "180.00")
    view = account(api, shopper["token"], shopper["account"])
    assert (view["balance"], view["held"], view["available"]) == ("880.00", "0.00", "880.00")
    assert {v for v in usage_of(shopper["account"]).values()} == {(120_00, 1)}  # only what was paid counts
    # The capture is idempotent; another capture or a release of the settled hold is refused.
    again = internal(runtime, "capture", hold_id=held["hold_id"], account_id=shopper["account"],
                     destination=shopper["merchant"], amount="120.00")
    assert ok(again) == captured
    other = internal(runtime, "capture", hold_id=held["hold_id"], account_id=shopper["account"],
                     destination=shopper["merchant"], amount="100.00")
    assert not other["ok"] and other["error"]["code"] == "HOLD_NOT_ACTIVE"
    late_release = internal(runtime, "release", hold_id=held["hold_id"], account_id=shopper["account"])
    assert not late_release["ok"] and late_release["error"]["code"] == "HOLD_NOT_ACTIVE"
    statement = api.statement(shopper["token"], shopper["account"])
    assert [(e["kind"], e["direction"], e["amount"], e["balance_after"]) for e in statement][-1] == \
        ("capture", "debit", "120.00", "880.00")


def test_full_capture_and_its_limits(runtime, shopper) -> None:
    held = ok(hold(runtime, shopper["customer"], shopper["account"], "50.00"))
    captured = ok(internal(runtime, "capture", hold_id=held["hold_id"], account_id=shopper["account"],
                           destination=shopper["merchant"]))
    assert captured["amount"] == "50.00" and captured["released"] == "0.00"
    over = internal(runtime, "capture", hold_id=ok(hold(runtime, shopper["customer"], shopper["account"],
                                                        "10.00"))["hold_id"],
                    account_id=shopper["account"], destination=shopper["merchant"], amount="10.01")
    assert over["error"]["code"] == "CAPTURE_EXCEEDS_HOLD"


def test_expired_holds_are_released_by_the_sweeper(api: Api, runtime, shopper) -> None:
    short = ok(hold(runtime, shopper["customer"], shopper["account"], "200.00", expires_in=5))
    long = ok(hold(runtime, shopper["customer"], shopper["account"], "100.00", expires_in=600))
    assert pumps.sweep(runtime)["released"] == 0
    time.sleep(5.2)
    expired = internal(runtime, "capture", hold_id=short["hold_id"], account_id=shopper["account"],
                       destination=shopper["merchant"])
    assert expired["error"]["code"] == "HOLD_EXPIRED"  # past its expiry, even before the sweeper came
    swept = pumps.sweep(runtime)
    assert swept["released"] == 1
    state = ok(internal(runtime, "get_hold", hold_id=short["hold_id"], account_id=shopper["account"]))
    assert state["status"] == "released" and state["reason"] == "expired"
    again = internal(runtime, "capture", hold_id=short["hold_id"], account_id=shopper["account"],
                     destination=shopper["merchant"])
    assert again["error"]["code"] == "HOLD_EXPIRED"  # the same answer after the sweeper released it
    assert ok(internal(runtime, "get_hold", hold_id=long["hold_id"], account_id=shopper["account"]))["status"] == \
        "active"
    view = account(api, shopper["token"], shopper["account"])
    assert (view["held"], view["available"]) == ("100.00", "900.00")
    assert pumps.sweep(runtime)["released"] == 0


def test_holds_refuse_what_they_cannot_hold(api: Api, runtime, shopper, ops: str) -> None:
    poor = hold(runtime, shopper["customer"], shopper["account"], "1000.01")
    assert poor["error"]["code"] == "INSUFFICIENT_FUNDS"
    foreign = hold(runtime, "someone-else", shopper["account"], "1.00")
    assert foreign["error"]["code"] == "ACCOUNT_NOT_FOUND"
    assert api.ops(ops, shopper["account"], "freeze").status == 200
    frozen = hold(runtime, shopper["customer"], shopper["account"], "1.00")
    assert frozen["error"]["code"] == "ACCOUNT_NOT_ACTIVE"
    unknown = internal(runtime, "release", hold_id="H" + "0" * 31, account_id=shopper["account"])
    assert unknown["error"]["code"] == "HOLD_NOT_FOUND"
    malformed = internal(runtime, "hold", caller="x", amount="-1")
    assert malformed["error"]["status"] == 400
    assert internal(runtime, "get_hold", hold_id="nothing", account_id="x")["error"]["code"] == "HOLD_NOT_FOUND"


def test_a_hold_of_another_account_is_not_found(runtime, shopper, api: Api, new_mobile) -> None:
    held = ok(hold(runtime, shopper["customer"], shopper["account"], "5.00"))
    _, other = api.customer_with_account(new_mobile())
    for operation in ("release", "get_hold"):
        reply = internal(runtime, operation, hold_id=held["hold_id"], account_id=other)
        assert reply["error"]["code"] == "HOLD_NOT_FOUND"
    reply = internal(runtime, "capture", hold_id=held["hold_id"], account_id=other, destination=shopper["merchant"])
    assert reply["error"]["code"] == "HOLD_NOT_FOUND"


def test_a_capture_to_a_contended_payee_goes_through_its_journal(api: Api, runtime, shopper) -> None:
    """A merchant that lost a race takes a captured hold's credit in its journal (no lock), folded later exact:
    the internal function writes journal postings as transfers do (the proof suite meets this under load; here
    it happens every run)."""
    from account_center import hot

    held = ok(hold(runtime, shopper["customer"], shopper["account"], "40.00", key="order-hot-1",
                   destination=shopper["merchant"]))
    hot.remember({shopper["merchant"]})
    try:
        captured = ok(internal(runtime, "capture", hold_id=held["hold_id"], account_id=shopper["account"],
                               destination=shopper["merchant"], amount="40.00"))
    finally:
        hot.forget()
    assert captured["status"] == "captured"
    postings = [i for i in pumps.table("JOURNAL_TABLE") if i["account_id"]["S"] == shopper["merchant"]]
    assert len(postings) == 1
    pumps.fold(runtime)
    assert account(api, shopper["token"], shopper["account"])["balance"] == "960.00"


def test_a_captured_hold_is_refunded_once_to_its_account(api: Api, runtime, shopper) -> None:
    """refund_capture (a bill its biller refused): the capture's destination debited, the payer credited, once;
    only a captured hold, only by its own account; the payee must hold the money."""
    held = ok(hold(runtime, shopper["customer"], shopper["account"], "70.00", destination=shopper["merchant"]))
    early = internal(runtime, "refund_capture", hold_id=held["hold_id"], account_id=shopper["account"])
    assert early["error"]["code"] == "HOLD_NOT_ACTIVE"  # nothing captured yet
    ok(internal(runtime, "capture", hold_id=held["hold_id"], account_id=shopper["account"],
                destination=shopper["merchant"]))
    assert {v for v in usage_of(shopper["account"]).values()} == {(70_00, 1)}
    pumps.fold(runtime)  # a credit the payee took through its journal is not available until folded
    other = internal(runtime, "refund_capture", hold_id=held["hold_id"], account_id=shopper["merchant"])
    assert other["error"]["code"] == "HOLD_NOT_FOUND"
    refunded = ok(internal(runtime, "refund_capture", hold_id=held["hold_id"], account_id=shopper["account"]))
    assert (refunded["status"], refunded["amount"], refunded["quota_returned"]) == ("refunded", "70.00", True)
    again = ok(internal(runtime, "refund_capture", hold_id=held["hold_id"], account_id=shopper["account"]))
    assert again == refunded  # replayed, although the payee no longer holds the money
    assert account(api, shopper["token"], shopper["account"])["balance"] == "1000.00"
    assert {v for v in usage_of(shopper["account"]).values()} == {(0, 0)}  # the payment no longer counts
    statement = api.statement(shopper["token"], shopper["account"])
    assert [(e["kind"], e["direction"], e["amount"]) for e in statement][-2:] == \
        [("capture", "debit", "70.00"), ("refund", "credit", "70.00")]


def test_parallel_refunds_of_one_capture_move_money_once(api: Api, runtime, shopper) -> None:
    from concurrent.futures import ThreadPoolExecutor

    held = ok(hold(runtime, shopper["customer"], shopper["account"], "90.00", destination=shopper["merchant"]))
    ok(internal(runtime, "capture", hold_id=held["hold_id"], account_id=shopper["account"],
                destination=shopper["merchant"]))
    pumps.fold(runtime)
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: internal(runtime, "refund_capture", hold_id=held["hold_id"],
                                                   account_id=shopper["account"]), range(8)))
    done = [r["result"] for r in replies if r["ok"]]
    # Each either refunded (the same refund) or lost a race it may retry; none moved money twice.
    assert done and len({d["transfer_id"] for d in done}) == 1
    assert all(r["ok"] or r["error"]["code"] == "CONCURRENT_UPDATE" for r in replies), replies
    pumps.fold(runtime)
    assert account(api, shopper["token"], shopper["account"])["balance"] == "1000.00"
    assert [e["kind"] for e in api.statement(shopper["token"], shopper["account"])].count("refund") == 1
