"""Properties of the ledger's arithmetic (hypothesis): any sequence of counter deposits, transfers (to ordinary
payees, to a hot settlement account, to a payee found contended) and journal folds, decided by the real
account center code on what it reads and applied to an in-memory table, keeps

- money conserved: balances plus postings still in the journal sum to zero after every step;
- every account's statement exact: entries numbered 1..version with no gap, each balance_after the running
  sum of the entries before it, the last one equal to the balance;
- no negative balance or available balance, and a refusal for insufficient funds exactly when the amount is
  more than what is available (a journal credit is not available before its fold).

The transactions' conditions are checked as they are applied (the version read, available >= amount), so a
decision that relied on something it did not lock would fail here.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from account_center import fold, hot, store, transfers
from account_center.models import Account, JournalPosting
from account_center.postings import GL_CASH
from account_center.schemas import DepositIn, TransferIn
from bank_common import schema
from bank_common.errors import ApiError
from bank_common.money import format_fen
from tests.unit.test_pboc_rules import ALICE, NOW, TELLER, ScriptedBank, _clock

ACCOUNTS = ("acct-a1", "acct-a2", "acct-a3")
SETTLEMENT = "acct-s1"


class Table(ScriptedBank):
    """ScriptedBank whose writes are applied: accounts, statement entries and journal postings."""

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, list[dict[str, Any]]] = {}
        self.journal: dict[tuple[str, str], dict[str, Any]] = {}

    def commit(self, record: Any, parts: list[store.Part]) -> None:
        self.apply([p.item for p in parts])

    def apply(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            if "Update" in item and "account_id" in item["Update"]["Key"]:
                self._update(item["Update"])
            elif "Put" in item:
                self._put(item["Put"]["Item"])
            elif "Delete" in item:
                key = item["Delete"]["Key"]
                del self.journal[(key["account_id"]["S"], key["sk"]["S"])]  # its condition: still there

    def _update(self, update: dict[str, Any]) -> None:
        values = {k: int(v["N"]) for k, v in update["ExpressionAttributeValues"].items() if "N" in v}
        account = self.accounts[update["Key"]["account_id"]["S"]]
        assert int(account.version) == values[":v"], "a write on a version it did not read"
        if ":need" in values:
            assert int(account.available) >= values[":need"]
        if ":d" in values:  # an in-place change (fold's advance uses :t)
            account.balance = int(account.balance) + values[":d"]
            account.available = int(account.available) + values[":avail"]
        else:
            account.balance = int(account.balance) + values[":t"]
            account.available = int(account.available) + values[":t"]
        account.version = values[":v1"]

    def _put(self, item: dict[str, Any]) -> None:
        if "sk" in item and item["sk"]["S"].startswith("J#"):
            self.journal[(item["account_id"]["S"], item["sk"]["S"])] = item
        elif "pk" in item and item["pk"]["S"].startswith("ACC#"):
            self.entries.setdefault(item["pk"]["S"][4:], []).append(item)
        elif "account_id" in item and "sk" not in item:  # a GL account created by its first fold
            self.accounts[item["account_id"]["S"]] = Account.from_raw_data(item)

    def fold(self, account_id: str) -> None:
        postings = [JournalPosting.from_raw_data(item) for (a, _), item in sorted(self.journal.items())
                    if a == account_id][:fold.FOLD_BATCH]
        if postings:
            self.apply(fold._fold_items(account_id, self.accounts.get(account_id), postings))

    def check(self) -> None:
        total = sum(int(a.balance) for a in self.accounts.values())
        assert total + sum(int(p["amount"]["N"]) for p in self.journal.values()) == 0, "money created or lost"
        for account_id, account in self.accounts.items():
            entries = sorted(self.entries.get(account_id, []), key=lambda e: e["sk"]["S"])
            assert [e["sk"]["S"] for e in entries] == [store.entry_sk(v) for v in range(1, int(account.version) + 1)]
            running = 0
            for e in entries:
                running += int(e["amount"]["N"]) * (1 if e["direction"]["S"] == "credit" else -1)
                assert int(e["balance_after"]["N"]) == running
            assert running == int(account.balance)
            if account_id != GL_CASH:
                assert int(account.balance) >= 0 and int(account.available) >= 0


step = st.one_of(
    st.tuples(st.just("deposit"), st.sampled_from(ACCOUNTS), st.integers(1, 500_00)),
    st.tuples(st.just("transfer"), st.sampled_from(ACCOUNTS), st.sampled_from((*ACCOUNTS, SETTLEMENT)),
              st.integers(1, 800_00)),
    st.tuples(st.just("contended"), st.sampled_from(ACCOUNTS)),  # a payee whose in-place credit lost a race
    st.tuples(st.just("fold"), st.sampled_from((*ACCOUNTS, SETTLEMENT, GL_CASH))),
)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(step, min_size=1, max_size=40))
def test_any_sequence_of_movements_and_folds_keeps_the_ledger_exact(steps: list[tuple[Any, ...]]) -> None:
    bank = Table()
    with pytest.MonkeyPatch.context() as mp:
        for name in ("ACCOUNTS_TABLE", "LEDGER_TABLE", "JOURNAL_TABLE", "LIMIT_USAGE_TABLE",
                     "LIMIT_DEFINITIONS_TABLE", "AGREEMENTS_TABLE"):
            mp.setenv(name, "unit-" + name.lower())
        mp.setattr(store, "load", bank.load)
        mp.setattr(store, "commit", bank.commit)
        mp.setattr(store, "put_unless_exists", bank.refuse)
        mp.setattr(transfers, "datetime", _clock(NOW))
        hot.forget()
        for account_id in ACCOUNTS:
            bank.account(account_id, "I", 0, owner="alice" if account_id == ACCOUNTS[0] else "bob")
            bank.accounts[account_id].version = 0
        bank.account(SETTLEMENT, "SETTLEMENT", 0, owner="life")
        bank.accounts[SETTLEMENT].version, bank.accounts[SETTLEMENT].hot = 0, True
        for number, (kind, *args) in enumerate(steps):
            if kind == "deposit":
                body = schema.decode({"account_id": args[0], "amount": format_fen(args[1])}, DepositIn)
                transfers.deposit(TELLER, f"d{number}", body)
            elif kind == "transfer":
                src, dst, amount = ACCOUNTS[0], args[1], args[2]  # alice pays from her one account
                if dst == src:
                    continue
                available = int(bank.accounts[src].available)
                body = schema.decode({"from_account": src, "to_account": dst, "amount": format_fen(amount)},
                                     TransferIn)
                try:
                    transfers.transfer(ALICE, "app", f"t{number}", body)
                except ApiError as refusal:
                    assert refusal.code == "INSUFFICIENT_FUNDS" and amount > available, refusal.code
                else:
                    assert amount <= available
            elif kind == "contended":
                hot.remember({args[0]})
            else:
                bank.fold(args[0])
            bank.check()
        for account_id in (*ACCOUNTS, SETTLEMENT, GL_CASH):  # everything folded: the journal is empty
            bank.fold(account_id)
        assert not bank.journal
        bank.check()
        hot.forget()
