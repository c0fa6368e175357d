"""Hot accounts and the journal (decision 0021): credits that do not take the payee's lock (the bank's GL
accounts, settlement accounts, a payee found contended) are postings of their own, folded later into the
balance and the statement with exact running balances; a posting that reaches a closed account goes to
suspense; money is conserved across journal and balances at every moment."""

from __future__ import annotations

from typing import Any

from account_center import hot
from tests.support import pumps
from tests.support.api import Api, subject_of
from tests.support.pumps import internal, ok

CASH_GL, SUSPENSE_GL = "GL-1001-CASH", "GL-2002-SUSPENSE"


def gl(account_id: str) -> dict[str, Any] | None:
    found = [i for i in pumps.table("ACCOUNTS_TABLE") if i["account_id"]["S"] == account_id]
    return found[0] if found else None


def journal_of(account_id: str) -> list[dict[str, Any]]:
    return [i for i in pumps.table("JOURNAL_TABLE") if i["account_id"]["S"] == account_id]


def entries_of(account_id: str) -> list[dict[str, Any]]:
    items = [i for i in pumps.table("LEDGER_TABLE") if i["pk"]["S"] == f"ACC#{account_id}"]
    return sorted(items, key=lambda i: i["sk"]["S"])


def test_the_cash_account_is_posted_through_its_journal(api: Api, teller: str, runtime, new_mobile) -> None:
    _, account = api.customer_with_account(new_mobile())
    for amount in ("100.00", "250.00", "0.50"):
        assert api.deposit(teller, account, amount).status == 201
    assert [int(p["amount"]["N"]) for p in journal_of(CASH_GL)] and gl(CASH_GL) is None  # not folded yet
    assert pumps.money_in_ledger() == 0  # the journal counts: money is conserved before the fold too
    folded = pumps.fold(runtime)
    assert folded["folded"] >= 3 and journal_of(CASH_GL) == []
    cash = gl(CASH_GL)
    assert cash is not None and int(cash["balance"]["N"]) <= -350_50
    entries = entries_of(CASH_GL)
    assert int(cash["version"]["N"]) == len(entries)
    running = 0
    for entry in entries:
        amount = int(entry["amount"]["N"])
        running += amount if entry["direction"]["S"] == "credit" else -amount
        assert int(entry["balance_after"]["N"]) == running
        assert entry["posted_at"]["S"] >= entry["created_at"]["S"]
    assert running == int(cash["balance"]["N"])
    summary = runtime.invoke("ReconcileLedgerFunction", {"page_size": 50, "hand_on": False})
    assert summary["balanced"] and summary["complete"], summary


def test_a_settlement_account_takes_many_payers_without_locking(api: Api, teller: str, runtime, new_mobile) -> None:
    settlement = ok(internal(runtime, "open_settlement_account", center="life", purpose="electricity bills"))
    again = ok(internal(runtime, "open_settlement_account", center="life", purpose="electricity bills"))
    assert again == settlement and settlement["type"] == "SETTLEMENT"
    biller = settlement["account_id"]
    payers = [api.customer_with_account(new_mobile()) for _ in range(3)]
    for token, account in payers:
        assert api.deposit(teller, account, "100.00").status == 201
        for amount in ("12.30", "7.70"):
            r = api.transfer(token, account, biller, amount)
            assert r.status == 201, r.body
    assert len(journal_of(biller)) == 6 and gl(biller)["balance"]["N"] == "0"  # nothing locked the biller
    pumps.fold(runtime)
    assert journal_of(biller) == [] and gl(biller)["balance"]["N"] == "6000"
    entries = entries_of(biller)
    assert [e["balance_after"]["N"] for e in entries] == ["1230", "2000", "3230", "4000", "5230", "6000"]
    assert pumps.money_in_ledger() == 0


def test_a_contended_payee_is_credited_through_its_journal(api: Api, teller: str, runtime, new_mobile) -> None:
    """After losing a race on a payee, credits to it skip its lock for a while; its own debits keep the lock,
    and the fold writes the credits after whatever debits happened first, each entry exact."""
    payer, src = api.customer_with_account(new_mobile())
    owner, popular = api.customer_with_account(new_mobile())
    assert api.deposit(teller, src, "300.00").status == 201
    assert api.deposit(teller, popular, "50.00").status == 201
    _, other = api.customer_with_account(new_mobile())
    hot.remember({popular})
    try:
        for amount in ("10.00", "20.00"):
            assert api.transfer(payer, src, popular, amount).status == 201
        assert api.balance(owner, popular) == "50.00" and len(journal_of(popular)) == 2
        # The payee spends what it has (its lock, its funds as posted) before the credits are folded.
        spent = api.transfer(owner, popular, other, "50.00")
        assert spent.status == 201 and spent.body["balance_after"] == "0.00"
        assert api.transfer(owner, popular, other, "0.01").code == "INSUFFICIENT_FUNDS"  # credits not posted yet
    finally:
        hot.forget()
    pumps.fold(runtime)
    statement = api.statement(owner, popular)
    assert [(e["direction"], e["amount"], e["balance_after"]) for e in statement] == [
        ("credit", "50.00", "50.00"), ("debit", "50.00", "0.00"), ("credit", "10.00", "10.00"),
        ("credit", "20.00", "30.00")]
    assert statement[2]["posted_at"] and statement[2]["created_at"] < statement[1]["created_at"]
    assert api.balance(owner, popular) == "30.00"


def test_postings_to_a_closed_account_go_to_suspense(api: Api, ops: str, runtime, new_mobile) -> None:
    token, account = api.customer_with_account(new_mobile())
    from account_center.models import JournalPosting
    from account_center.postings import GL_CASH

    assert api.ops(ops, account, "closure").status == 200
    # A credit that read the account as open and landed after it closed (the race the journal allows):
    JournalPosting(account, "J#2026-01-01T00:00:00.000000Z#aaaaaaaaaaaa", amount=42_00, transfer_id="t" * 32,
                   kind="transfer", counterparty="x", memo="late", created_at="2026-01-01T00:00:00Z").save()
    JournalPosting(GL_CASH, "J#2026-01-01T00:00:00.000000Z#bbbbbbbbbbbb", amount=-42_00, transfer_id="t" * 32,
                   kind="transfer", counterparty="x", memo="late", created_at="2026-01-01T00:00:00Z").save()
    pumps.fold(runtime)
    suspense = gl(SUSPENSE_GL)
    assert suspense is not None and int(suspense["balance"]["N"]) == 42_00
    assert api.call("GET", f"/v1/account/accounts/{account}", token=token).body["balance"] == "0.00"
    assert pumps.money_in_ledger() == 0


def test_the_stream_folds_what_it_names(api: Api, teller: str, runtime, new_mobile) -> None:
    _, account = api.customer_with_account(new_mobile())
    assert api.deposit(teller, account, "5.00").status == 201
    posting = journal_of(CASH_GL)[0]
    event = {"Records": [{"eventName": "INSERT", "eventSource": "aws:dynamodb", "dynamodb": {
        "Keys": {"account_id": posting["account_id"], "sk": posting["sk"]}, "SequenceNumber": "100"}},
        {"eventName": "REMOVE", "eventSource": "aws:dynamodb", "dynamodb": {
            "Keys": {"account_id": {"S": "ignored"}, "sk": {"S": "J#x"}}, "SequenceNumber": "101"}}]}
    assert runtime.invoke("FoldJournalFunction", event) == {"batchItemFailures": []}
    assert journal_of(CASH_GL) == []
    assert runtime.invoke("FoldJournalFunction", event) == {"batchItemFailures": []}  # redelivered: nothing to do


def test_settlement_accounts_are_the_centers_not_customers(api: Api, runtime, new_mobile) -> None:
    biller = ok(internal(runtime, "open_settlement_account", center="life", purpose="water"))["account_id"]
    token, _ = api.customer_with_account(new_mobile())
    assert api.call("GET", f"/v1/account/accounts/{biller}", token=token).status == 404
    bad = internal(runtime, "open_settlement_account", center="Life!", purpose="")
    assert not bad["ok"] and bad["error"]["status"] == 400
    summary = internal(runtime, "account_summary", account_id=biller, customer_id=subject_of(token))
    assert summary["error"]["code"] == "ACCOUNT_NOT_FOUND"
