"""The life center's rules without AWS: the order state machine, callback signatures, the biller adapters
(the HTTP gateway against recorded answers, the fake's outcomes), amount rules, and reconciliation matching."""

from __future__ import annotations

import io
import json
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bank_common.money import format_fen
from life_center import billers, orders, reconciliation, signing
from life_center.reconciliation import BillerFile, Line, Ours

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "life" / "sh-electric-2026-11-27.csv"
EVENTS = st.lists(st.sampled_from(["paid", "processing", "succeeded", "failed", "refunded", "review", "refused"]),
                  max_size=30)


# --- the state machine -----------------------------------------------------------------------------------

@given(EVENTS)
def test_no_sequence_of_changes_leaves_a_final_state_or_refunds_without_a_failure(events: list[str]) -> None:
    status, seen = "pending", ["pending"]
    for wanted in events:
        status = orders.next_status(status, wanted)
        if status != seen[-1]:
            seen.append(status)
    for final in orders.FINAL:
        if final in seen:
            assert seen[-1] == final and seen.count(final) == 1  # final states absorb, each reached once
    if "refunded" in seen:
        assert seen[seen.index("refunded") - 1] == "failed"  # refunded only after a failure, never after a timeout
    if "succeeded" in seen:
        assert "failed" not in seen and "refunded" not in seen
    if "refused" in seen:
        assert seen == ["pending", "refused"]  # no money moved, and none ever will under this order
    assert seen.count("paid") <= 1 and seen.count("processing") <= 1


def test_a_late_result_changes_an_order_once() -> None:
    assert orders.next_status("processing", "succeeded") == "succeeded"
    assert orders.next_status("succeeded", "succeeded") == "succeeded"  # a duplicate callback
    assert orders.next_status("succeeded", "failed") == "succeeded"  # a conflicting one (answered 409)
    assert orders.next_status("processing", "refunded") == "processing"  # a timeout is never refunded blind
    assert orders.next_status("review", "succeeded") == "succeeded"  # a late answer still settles a review


def test_order_numbers_come_from_the_customer_and_the_key() -> None:
    a = orders.order_no_for("c-1", "key-00000001")
    assert a == orders.order_no_for("c-1", "key-00000001") and a.startswith("L") and len(a) == 32
    assert a != orders.order_no_for("c-2", "key-00000001")


# --- signatures ------------------------------------------------------------------------------------------

@given(st.binary(max_size=300), st.integers(min_value=1_600_000_000, max_value=2_000_000_000))
def test_a_signature_verifies_only_its_own_body_time_and_secret(body: bytes, now: int) -> None:
    headers = signing.headers("s3cret", body, now)
    ts, sig = headers[signing.TIMESTAMP_HEADER], headers[signing.SIGNATURE_HEADER]
    signing.verify("s3cret", ts, sig, body, now + 10)
    with pytest.raises(signing.BadSignature):
        signing.verify("other", ts, sig, body, now)
    with pytest.raises(signing.BadSignature):
        signing.verify("s3cret", ts, sig, body + b"x", now)
    with pytest.raises(signing.BadSignature):
        signing.verify("s3cret", str(now + 1), sig, body, now)  # the time is inside what is signed
    with pytest.raises(signing.StaleTimestamp):
        signing.verify("s3cret", ts, sig, body, now + signing.TOLERANCE_SECONDS + 1)
    with pytest.raises(signing.SignatureRequired):
        signing.verify("s3cret", None, sig, body, now)


def test_signature_errors_are_401_with_stable_codes() -> None:
    for error in (signing.SignatureRequired(), signing.BadSignature(), signing.StaleTimestamp()):
        assert error.status == 401
    assert {signing.SignatureRequired.code, signing.BadSignature.code, signing.StaleTimestamp.code} == {
        "SIGNATURE_REQUIRED", "BAD_SIGNATURE", "STALE_TIMESTAMP"}


# --- billers ---------------------------------------------------------------------------------------------

def test_the_catalog_and_its_rules() -> None:
    electric, topup = billers.biller("sh-electric"), billers.biller("cm-topup")
    assert {b.kind for b in billers.catalog().values()} == {"electricity", "water", "gas", "phone_topup", "property"}
    electric.check_customer_number("0123456789")
    with pytest.raises(billers.InvalidCustomerNumber):
        electric.check_customer_number("12345")
    electric.check_amount(100)
    with pytest.raises(billers.AmountNotAllowed):
        electric.check_amount(500_001)
    topup.check_amount(50_00)
    with pytest.raises(billers.AmountNotAllowed):
        topup.check_amount(12_00)
    with pytest.raises(billers.BillerNotFound):
        billers.biller("nope")
    assert billers.mask_name("张伟明") == "张*明" and billers.mask_name("李娜") == "李*"


def test_the_fake_biller_answers_as_told() -> None:
    fake, electric = billers.FakeBiller(), billers.biller("sh-electric")

    def order(last: str) -> billers.PaymentOrder:
        return billers.PaymentOrder("L" + "a" * 31, "012345678" + last, 100)

    assert fake.pay(electric, order("1")).status == "succeeded"
    assert fake.pay(electric, order("9")).status == "failed"
    assert fake.pay(electric, order("5")).status == "processing"
    for late in "876":
        with pytest.raises(billers.BillerTimeout):
            fake.pay(electric, order(late))
    assert [fake.status(electric, order(d)).status for d in "8765"] == ["succeeded", "processing", "failed",
                                                                       "succeeded"]
    assert fake.query(electric, "0123456781") == fake.query(electric, "0123456781")
    with pytest.raises(billers.BillNotFound):
        fake.query(electric, "0123456784")


class Recorded:
    """An opener that answers as the biller gateway did (recorded answers), remembering what it was sent."""

    def __init__(self, answers: list[Any]) -> None:
        self.answers, self.sent = answers, []

    def __call__(self, request: Any, timeout: float) -> Any:
        self.sent.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return io.BytesIO(json.dumps(answer).encode())


def http_error(code: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError("https://billers.gateway.example.cn", code, "x", None, None)  # type: ignore[arg-type]


def test_the_http_gateway_signs_and_reads_the_recorded_answers(monkeypatch) -> None:
    monkeypatch.setenv("LIFE_BILLER_SECRETS", json.dumps({"sh-electric": "k1"}))
    from bank_common import config

    config.reset()
    electric = billers.biller("sh-electric")
    opener = Recorded([
        {"payee_name": "张伟明", "amount_due": "123.40", "due_date": "2026-12-15"},
        {"status": "processing", "biller_ref": "SG000123"},
        {"status": "succeeded", "biller_ref": "SG000123"},
        http_error(404),
        TimeoutError("read timed out"),
        http_error(502),
    ])
    gateway = billers.HttpBillerGateway(opener)
    assert gateway.query(electric, "0123456781") == billers.Bill("张伟明", 123_40, "2026-12-15")
    order = billers.PaymentOrder("L" + "b" * 31, "0123456781", 123_40)
    assert gateway.pay(electric, order) == billers.BillerResult("processing", "SG000123")
    sent = opener.sent[1]
    assert sent.full_url == "https://billers.gateway.example.cn/sh-electric/payments"
    assert json.loads(sent.data) == {"order_no": order.order_no, "customer_number": "0123456781", "amount": "123.40"}
    headers = {k.lower(): v for k, v in sent.header_items()}
    signing.verify("k1", headers["x-biller-timestamp"], headers["x-biller-signature"], sent.data)
    assert gateway.status(electric, order).status == "succeeded"
    assert gateway.status(electric, order) == billers.BillerResult("processing", reason="not_received")
    with pytest.raises(billers.BillerTimeout):
        gateway.pay(electric, order)  # no answer: the outcome is unknown, never a failure
    with pytest.raises(billers.BillerTimeout):
        gateway.status(electric, order)
    config.reset()


# --- reconciliation --------------------------------------------------------------------------------------

OURS = [Ours("L" + "1" * 31, "succeeded", 12050), Ours("L" + "2" * 31, "succeeded", 8000),
        Ours("L" + "3" * 31, "refunded", 3000), Ours("L" + "4" * 31, "succeeded", 5000),
        Ours("L" + "5" * 31, "processing", 2000), Ours("L" + "6" * 31, "refunded", 1000)]


def test_the_report_of_the_prepared_file() -> None:
    parsed = reconciliation.parse_file(FIXTURE.read_text())
    assert parsed.declared_count == 6 and parsed.declared_total == 330_50
    report = reconciliation.match("sh-electric", "2026-11-27", parsed, OURS, [], "2026-11-28T02:00:00Z")
    assert report.counts == {"matched": 2, "short": 1, "long": 2, "amount_mismatch": 1, "doubtful": 1}
    assert [(i.order_no[1], i.category, i.action) for i in report.items] == [
        ("2", "short", "claim_from_biller"), ("3", "long", "recover_from_biller"),
        ("4", "amount_mismatch", "investigate"), ("5", "doubtful", "carry_to_t_plus_2"),
        ("7", "long", "recover_from_biller")]
    assert report.totals is not None and report.totals.file_total_ok and report.totals.difference == "70.00"
    assert report.status == "exceptions" and report.carried_to == "2026-11-28"


def test_a_file_whose_total_does_not_add_up_is_an_exception() -> None:
    text = FIXTURE.read_text().replace("TOTAL,6,330.50", "TOTAL,6,330.60")
    report = reconciliation.match("sh-electric", "2026-11-27", reconciliation.parse_file(text), OURS, [], "t")
    assert report.totals is not None and not report.totals.file_total_ok and report.status == "exceptions"


@pytest.mark.parametrize("text", ["", "a,b,c,d\n", "order_no,biller_ref,amount,status\nL1,R,1.5.0,succeeded\n",
                                  "order_no,biller_ref,amount,status\nTOTAL,0,0.00\nL1,R,1.00,succeeded\n",
                                  "order_no,biller_ref,amount,status\nL1,R,1.00,paid\n",
                                  "order_no,biller_ref,amount,status\nL1,R,1.00,succeeded\nL1,R,1.00,succeeded\n"])
def test_unreadable_files_are_refused(text: str) -> None:
    with pytest.raises(reconciliation.FileInvalid):
        reconciliation.parse_file(text)


STATUSES = st.sampled_from(["succeeded", "refunded", "refused", "processing", "review", "paid"])


@settings(max_examples=200)
@given(st.dictionaries(st.integers(0, 40), st.tuples(STATUSES, st.integers(1, 10_000)), max_size=20),
       st.dictionaries(st.integers(0, 40), st.tuples(st.sampled_from(["succeeded", "failed"]),
                                                     st.integers(1, 10_000)), max_size=20))
def test_every_order_and_line_lands_in_exactly_one_category(ours: dict, theirs: dict) -> None:
    mine = [Ours(f"L{n:031d}", s, a) for n, (s, a) in ours.items()]
    lines = [Line(f"L{n:031d}", "R", a, s) for n, (s, a) in theirs.items()]
    file = BillerFile(lines, len(lines), sum(line.amount for line in lines))
    report = reconciliation.match("sh-electric", "2026-11-27", file, mine, [], "t")
    assert sum(report.counts.values()) == len(set(ours) | set(theirs))
    assert report.totals is not None and report.totals.file_total_ok
    # The succeeded sums of both sides, and their difference, in fen.
    theirs_paid = sum(a for s, a in theirs.values() if s == "succeeded")
    ours_paid = sum(a for s, a in ours.values() if s == "succeeded")
    assert report.totals.difference == format_fen(theirs_paid - ours_paid)
    if report.status == "balanced":
        assert theirs_paid == ours_paid and not report.items


def test_carried_doubtful_items_resolve_or_escalate() -> None:
    line = Line("L" + "5" * 31, "R5", 2000, "succeeded")
    carried = [(Ours(line.order_no, "succeeded", 2000), line, line.order_no),
               (Ours("L" + "8" * 31, "processing", 100), None, "L" + "8" * 31)]
    report = reconciliation.match("sh-electric", "2026-11-28", BillerFile([], 0, 0), [], carried, "t")
    assert [(i.order_no[1], i.category) for i in report.items] == [("5", "resolved"), ("8", "escalated")]
    assert report.counts == {"carried_resolved": 1, "carried_escalated": 1}
