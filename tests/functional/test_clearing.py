"""Transfers to and from other banks through the clearing adapter, on moto with the fake clearing house:
hold → clearing queue → submitter → clearing house → receipt on the inbound queue → settled (captured) or
returned (released); a late settlement after the hold expired goes to suspense; other banks' credits come in
under the PBOC caps or go back. Every step idempotent under duplicate deliveries."""

from __future__ import annotations

import time
from typing import Any

import pytest

from account_center import clearing_gateway
from tests.support import pumps
from tests.support.api import OTHER_BANK, Api, card, new_key

FEES_GL, CLEARING_GL, SUSPENSE_GL = "GL-6001-FEES", "GL-2001-CLEARING", "GL-2002-SUSPENSE"


@pytest.fixture
def customer(api: Api, teller: str, new_mobile) -> dict[str, Any]:
    token, account = api.rich_customer(teller, new_mobile(), "60000.00", account_type="II")
    return {"token": token, "account": account}


def elevated(token: str, level: str) -> str:
    """The same session at a higher authentication level (what OTP or a step-up will give; issued here)."""
    from bank_common import tokens

    principal = tokens.verify(token)
    return tokens.issue(tokens.Principal(principal.subject, principal.kind, channel=principal.channel,
                                         device_id=principal.device_id, auth_level=level))[0]


def run_clearing(runtime: Any, aws: Any) -> None:
    """The submitter takes the clearing queue, the inbound function the receipts the fake delivered."""
    pumps.pump(runtime, aws.queue_urls["ClearingQueue"], "ClearingSubmitFunction")
    pumps.pump(runtime, aws.queue_urls["ClearingInboundQueue"], "ClearingInboundFunction")


def status(api: Api, token: str, transfer_id: str) -> dict[str, Any]:
    r = api.call("GET", f"/v1/account/outbound-transfers/{transfer_id}", token=token)
    assert r.status == 200, r.body
    return dict(r.body)


def gl_balance(account_id: str) -> int:
    found = [i for i in pumps.table("ACCOUNTS_TABLE") if i["account_id"]["S"] == account_id]
    return int(found[0]["balance"]["N"]) if found else 0


def test_an_outbound_transfer_settles(api: Api, runtime, aws, customer) -> None:
    r = api.outbound(customer["token"], customer["account"], card("settled"), "1200.00", memo="rent")
    assert r.status == 202 and r.body["status"] == "pending" and r.body["fee"] == "0.00", r.body
    view = api.call("GET", f"/v1/account/accounts/{customer['account']}", token=customer["token"]).body
    assert (view["balance"], view["held"], view["available"]) == ("60000.00", "1200.00", "58800.00")
    run_clearing(runtime, aws)
    assert status(api, customer["token"], r.body["transfer_id"])["status"] == "completed"
    view = api.call("GET", f"/v1/account/accounts/{customer['account']}", token=customer["token"]).body
    assert (view["balance"], view["held"], view["available"]) == ("58800.00", "0.00", "58800.00")
    pumps.fold(runtime)
    assert gl_balance(CLEARING_GL) == 1200_00  # the bank owes the clearing system what left the account
    assert pumps.money_in_ledger() == 0
    last = api.statement(customer["token"], customer["account"])[-1]
    assert (last["kind"], last["direction"], last["amount"], last["balance_after"]) == \
        ("outbound", "debit", "1200.00", "58800.00")


def test_a_high_value_transfer_pays_a_fee_into_fee_income(api: Api, runtime, aws, teller: str, new_mobile) -> None:
    # Type II outflow is capped at 10,000.00 a day: high value goes from a Type I account, in a session
    # verified beyond a password (the bank's single cap at L1 is 50,000.00).
    mobile = new_mobile()
    api.register(mobile)
    owner = api.login(mobile)
    big = api.open_type_i(teller, owner)
    assert api.deposit(teller, big, "60000.00").status == 201
    api.sign_eaccount(owner)
    owner = elevated(owner, "L2")
    r = api.outbound(owner, big, card("settled"), "50000.01")
    assert r.status == 202 and r.body["fee"] == "5.00", r.body
    run_clearing(runtime, aws)
    pumps.fold(runtime)
    assert api.balance(owner, big) == "9994.99"
    assert gl_balance(FEES_GL) == 5_00 and gl_balance(CLEARING_GL) >= 50_000_01
    assert pumps.money_in_ledger() == 0


def test_a_returned_transfer_releases_the_money(api: Api, runtime, aws, customer) -> None:
    r = api.outbound(customer["token"], customer["account"], card("returned"), "300.00")
    assert r.status == 202
    run_clearing(runtime, aws)
    assert status(api, customer["token"], r.body["transfer_id"])["status"] == "returned"
    view = api.call("GET", f"/v1/account/accounts/{customer['account']}", token=customer["token"]).body
    assert (view["balance"], view["held"], view["available"]) == ("60000.00", "0.00", "60000.00")


def test_an_instruction_the_clearing_front_end_refuses_releases_the_money(api: Api, runtime, aws, customer,
                                                                         monkeypatch) -> None:
    """The FEP can refuse an instruction at once (its acknowledgement is a pacs.002 RJCT): the submitter
    releases the hold, and the limits it reserved are given back."""
    monkeypatch.setattr(clearing_gateway.FakeClearingHouse, "submit", lambda self, instruction: False)
    r = api.outbound(customer["token"], customer["account"], card("settled"), "250.00")
    assert r.status == 202
    out_usage = [i for i in pumps.table("LIMIT_USAGE_TABLE")
                 if i["pk"]["S"].startswith(f"ACCT#{customer['account']}#OUT#D")]
    assert [int(i["amount"]["N"]) for i in out_usage] == [250_00]  # reserved by the hold
    pumps.pump(runtime, aws.queue_urls["ClearingQueue"], "ClearingSubmitFunction")
    assert status(api, customer["token"], r.body["transfer_id"])["status"] == "returned"
    view = api.call("GET", f"/v1/account/accounts/{customer['account']}", token=customer["token"]).body
    assert (view["balance"], view["held"], view["available"]) == ("60000.00", "0.00", "60000.00")
    out_usage = [i for i in pumps.table("LIMIT_USAGE_TABLE")
                 if i["pk"]["S"].startswith(f"ACCT#{customer['account']}#OUT#D")]
    assert [int(i["amount"]["N"]) for i in out_usage] == [0]  # given back


def test_duplicates_change_nothing_twice(api: Api, runtime, aws, customer, monkeypatch) -> None:
    monkeypatch.setenv("FAKE_CLEARING_DUPLICATES", "1")  # every receipt delivered twice
    key = new_key()
    to = card("settled")
    r = api.outbound(customer["token"], customer["account"], to, "100.00", key=key)
    again = api.outbound(customer["token"], customer["account"], to, "100.00", key=key)  # queues it again
    assert again.body == r.body
    run_clearing(runtime, aws)
    pumps.pump(runtime, aws.queue_urls["ClearingQueue"], "ClearingSubmitFunction")  # nothing left to submit
    assert api.balance(customer["token"], customer["account"]) == "59900.00"
    debits = [e for e in api.statement(customer["token"], customer["account"]) if e["kind"] == "outbound"]
    assert len(debits) == 1


def test_a_late_settlement_after_expiry_goes_to_suspense(api: Api, runtime, aws, customer, monkeypatch) -> None:
    monkeypatch.setenv("OUTBOUND_HOLD_SECONDS", "5")
    monkeypatch.setenv("FAKE_CLEARING_LATE_SECONDS", "7")
    r = api.outbound(customer["token"], customer["account"], card("late"), "250.00")
    pumps.pump(runtime, aws.queue_urls["ClearingQueue"], "ClearingSubmitFunction")
    assert pumps.pump(runtime, aws.queue_urls["ClearingInboundQueue"], "ClearingInboundFunction") == 0  # not yet
    time.sleep(5.5)
    assert pumps.sweep(runtime)["released"] == 1  # the hold expired: the money is the customer's again
    assert status(api, customer["token"], r.body["transfer_id"])["status"] == "expired"
    time.sleep(2)
    assert pumps.pump(runtime, aws.queue_urls["ClearingInboundQueue"], "ClearingInboundFunction") == 1
    pumps.fold(runtime)
    # The clearing system paid the other bank anyway: suspense carries it until ops recover it.
    assert gl_balance(SUSPENSE_GL) == -250_00 and gl_balance(CLEARING_GL) == 250_00
    assert api.balance(customer["token"], customer["account"]) == "60000.00"
    assert status(api, customer["token"], r.body["transfer_id"])["status"] == "completed"
    assert pumps.money_in_ledger() == 0


def test_the_sweeper_queues_what_was_never_queued(api: Api, runtime, aws, customer, monkeypatch) -> None:
    from account_center import clearing

    monkeypatch.setattr(clearing, "enqueue", lambda hold_id: None)  # the handler died before queueing
    r = api.outbound(customer["token"], customer["account"], card("settled"), "10.00")
    monkeypatch.undo()
    assert pumps.sweep(runtime)["requeued"] == 0  # younger than a minute: maybe still on its way
    monkeypatch.setattr(clearing, "REQUEUE_AFTER_SECONDS", -1)
    assert pumps.sweep(runtime)["requeued"] == 1
    run_clearing(runtime, aws)
    assert status(api, customer["token"], r.body["transfer_id"])["status"] == "completed"


def test_outbound_limits_and_ownership(api: Api, customer, new_mobile) -> None:
    over = api.outbound(customer["token"], customer["account"], card(), "10000.01")
    assert over.status == 422 and over.code == "LIMIT_EXCEEDED"  # Type II outflow
    stranger, _ = api.customer_with_account(new_mobile())
    foreign = api.outbound(stranger, customer["account"], card(), "1.00")
    assert foreign.status == 404 and foreign.code == "ACCOUNT_NOT_FOUND"
    mine = api.outbound(customer["token"], customer["account"], card(), "1.00")
    peek = api.call("GET", f"/v1/account/outbound-transfers/{mine.body['transfer_id']}", token=stranger)
    assert peek.status == 404
    bad = api.call("POST", "/v1/account/outbound-transfers", {"from_account": customer["account"], "to_bank": "ICBC",
                                                              "to_account": "1", "to_name": "x", "amount": "1"},
                   token=customer["token"], key=new_key())
    assert bad.status == 400 and bad.code == "VALIDATION_FAILED"
    assert api.call("GET", "/v1/account/outbound-transfers/nope", token=customer["token"]).status == 404


def credit_message(to_account: str, amount_fen: int, message_id: str, from_account: str = "6222000011112222333") -> str:
    return clearing_gateway.credit_transfer(
        message_id, "2026-11-26T10:00:00+08:00", amount_fen, debtor_bank=OTHER_BANK, debtor_account=from_account,
        debtor_name="王五", debtor_id="", creditor_bank=clearing_gateway.bank_code(), creditor_account=to_account,
        creditor_name="收款人", memo="货款")


def deliver(runtime: Any, body: str) -> dict[str, Any]:
    result: dict[str, Any] = runtime.invoke("ClearingInboundFunction", {"Records": [
        {"messageId": "m-1", "body": body, "eventSource": "aws:sqs"}]})
    return result


def test_inbound_credits_arrive_once_under_the_caps(api: Api, runtime, new_mobile) -> None:
    token, account = api.customer_with_account(new_mobile())
    message = credit_message(account, 9_000_00, "INBOUND-0001")
    assert deliver(runtime, message) == {"batchItemFailures": []}
    assert deliver(runtime, message) == {"batchItemFailures": []}  # delivered twice: credited once
    assert api.balance(token, account) == "9000.00"
    entries = api.statement(token, account)
    assert [(e["kind"], e["amount"]) for e in entries] == [("inbound", "9000.00")]
    # Type II inflow from outside its binding: 10,000.00 a day; what would go over is sent back.
    assert deliver(runtime, credit_message(account, 1_000_01, "INBOUND-0002")) == {"batchItemFailures": []}
    assert api.balance(token, account) == "9000.00"
    assert deliver(runtime, credit_message(account, 1_000_00, "INBOUND-0003")) == {"batchItemFailures": []}
    assert api.balance(token, account) == "10000.00"  # exactly the cap
    assert deliver(runtime, credit_message("6230910000000000000", 100, "INBOUND-0004")) == {"batchItemFailures": []}
    pumps.fold(runtime)
    assert pumps.money_in_ledger() == 0


def test_unreadable_messages_fail_and_are_retried(runtime) -> None:
    result = deliver(runtime, "<not-xml")
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}


def test_the_fep_adapter_speaks_iso_20022() -> None:
    """The real adapter against recorded FEP answers: a pacs.008 out, the pacs.002 acknowledgement read."""
    sent: list[tuple[str, bytes]] = []

    def fep(answer: str, status_code: int = 200) -> Any:
        def send(url: str, body: bytes) -> tuple[int, bytes]:
            sent.append((url, body))
            return status_code, answer.encode()

        return send

    instruction = clearing_gateway.Instruction("O" + "a" * 31, "2026-11-26T10:00:00Z", 123_45, "6230910000000000001",
                                               "c-1", OTHER_BANK, "6222000011112222333", "李四", "rent")
    accepted = clearing_gateway.status_report("ACK-1", instruction.instruction_id, "ACTC")
    gateway = clearing_gateway.FepClearingGateway("https://fep.test", send=fep(accepted))
    assert gateway.submit(instruction) is True
    url, body = sent[-1]
    assert url == "https://fep.test/pacs.008"
    parsed = clearing_gateway.parse(body.decode())
    assert (parsed.kind, parsed.amount, parsed.to_account, parsed.from_bank) == \
        ("credit", 123_45, "6222000011112222333", clearing_gateway.bank_code())
    assert b'<IntrBkSttlmAmt Ccy="CNY">123.45</IntrBkSttlmAmt>' in body
    rejected = clearing_gateway.status_report("ACK-2", instruction.instruction_id, "RJCT", "AC01")
    assert clearing_gateway.FepClearingGateway("https://fep.test", send=fep(rejected)).submit(instruction) is False
    with pytest.raises(ConnectionError):
        clearing_gateway.FepClearingGateway("https://fep.test", send=fep("", 503)).submit(instruction)
    settled = clearing_gateway.parse(clearing_gateway.status_report("S-1", instruction.instruction_id, "ACSC"))
    returned = clearing_gateway.parse(clearing_gateway.status_report("S-2", instruction.instruction_id, "RJCT", "AC04"))
    assert (settled.kind, returned.kind, returned.reason) == ("settled", "returned", "AC04")
    gateway = clearing_gateway.FepClearingGateway("https://fep.test", send=fep(""))
    gateway.return_credit(parsed, "AC01")
    assert sent[-1][0] == "https://fep.test/pacs.004" and b"<Cd>AC01</Cd>" in sent[-1][1]
    with pytest.raises(clearing_gateway.UnreadableMessage):
        clearing_gateway.parse(clearing_gateway.status_report("S-3", "x", "PDNG"))
