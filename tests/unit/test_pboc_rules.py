"""The PBOC account rules (银发〔2016〕302号, 〔2018〕16号) as the account center applies them, with hand-checked
figures at every boundary: a cap reached exactly, exceeded by one fen, a movement that does not count, and a
same-day reversal (which gives the quota back) against a next-day one (which does not).

The real decisions run (transfers.transfer, deposit, reverse, holds.hold) against a scripted store: the
snapshot they read is built here, and what they would write is captured instead of sent, so each figure is
checked where it is decided (the read) and where it is enforced (the write's conditions).

Caps, in fen: Type II outflow and non-bound inflow 10,000.00 a day (1,000,000) and 200,000.00 a year
(20,000,000); Type III balance 2,000.00 (200,000), outflow 2,000.00 a day (200,000) and 50,000.00 a year
(5,000,000).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from account_center import holds, hot, movements, store, transfers
from account_center.models import Account, LedgerTransaction
from account_center.schemas import DepositIn, ReversalIn, TransferIn
from bank_common import agreements, limits, schema
from bank_common.errors import ApiError
from bank_common.principal import Principal
from contract_center import defaults

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 11:00 on 26 November in Shanghai
DAY, YEAR = "D20261126", "Y2026"
ALICE = Principal("alice", "customer", channel="app", device_id="d", auth_level="L1")
TELLER = Principal("teller", "staff", roles=("teller", "ops"))


@pytest.fixture(autouse=True)
def no_step_up(monkeypatch: pytest.MonkeyPatch) -> None:
    """These are the PBOC and the bank's L1 caps: amounts past the step-up threshold go without one here."""
    monkeypatch.setenv("STEP_UP_THRESHOLD_FEN", str(10**15))


def definition(**values: int) -> dict[str, Any]:
    return {k: {"N": str(v)} for k, v in values.items()}


DEFINITIONS = {limits.account_type_key(t): definition(**caps) for t, caps in defaults.PBOC_CAPS.items()}
for txn_type, levels in defaults.BANK_DEFAULTS.items():
    DEFINITIONS[limits.bank_key(txn_type, "app", "L1")] = definition(**levels["L1"])


class ScriptedBank:
    """The accounts, usage and signature a decision reads; what it writes (parts) or records (refusals)."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.usage: dict[str, dict[str, Any]] = {}
        self.holds: dict[str, Any] = {}
        self.written: list[list[store.Part]] = []
        self.refusals: list[Any] = []

    def account(self, account_id: str, account_type: str, balance: int, owner: str = "alice",
                bound: str | None = None) -> str:
        self.accounts[account_id] = Account(account_id, customer_id=owner, account_type=account_type, status="active",
                                            balance=balance, held=0, available=balance, version=3,
                                            opened_at="2026-01-01T00:00:00Z", bound_account=bound,
                                            bound_bank="SELF" if bound else None, binding="verified" if bound else None)
        return account_id

    def used(self, key: str, amount: int, count: int = 1) -> None:
        self.usage[key] = {"amount": {"N": str(amount)}, "txn_count": {"N": str(count)}}

    def load(self, reads: store.Reads, consistent: bool = False) -> store.Snapshot:  # one state: always consistent
        return store.Snapshot({a: self.accounts[a] for a in reads.accounts if a in self.accounts},
                              {k: self.usage[k] for k in reads.usage if k in self.usage},
                              limits.Definitions(dict(DEFINITIONS)),
                              {c: {"customer_id": {"S": c}, "status": {"S": "signed"}} for c in reads.signatures},
                              {h: self.holds[h] for h in reads.holds if h in self.holds})

    def commit(self, record: Any, parts: list[store.Part]) -> None:
        self.written.append(parts)

    def refuse(self, model: Any) -> None:
        self.refusals.append(model)

    def updates(self) -> dict[str, dict[str, Any]]:
        """The last write's updates, by key (usage pk or account id)."""
        out = {}
        for part in self.written[-1]:
            update = part.item.get("Update")
            if update:
                key = update["Key"].get("pk") or update["Key"].get("account_id")
                out[key["S"]] = update
        return out


@pytest.fixture
def bank(monkeypatch: pytest.MonkeyPatch) -> ScriptedBank:
    for name in ("ACCOUNTS_TABLE", "LEDGER_TABLE", "JOURNAL_TABLE", "HOLDS_TABLE", "LIMIT_USAGE_TABLE",
                 "LIMIT_DEFINITIONS_TABLE", "AGREEMENTS_TABLE"):
        monkeypatch.setenv(name, "unit-" + name.lower())
    scripted = ScriptedBank()
    monkeypatch.setattr(store, "load", scripted.load)
    monkeypatch.setattr(store, "commit", scripted.commit)
    monkeypatch.setattr(store, "put_unless_exists", lambda model: scripted.refuse(model))
    for module in (transfers, holds):
        monkeypatch.setattr(module, "datetime", _clock(NOW))
    hot.forget()
    return scripted


def _clock(at: datetime) -> type[datetime]:
    class Clock(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Clock:  # type: ignore[override]
            return cls.fromtimestamp(at.timestamp(), tz)

    return Clock


def transfer(src: str, dst: str, amount: str) -> dict[str, Any]:
    body = schema.decode({"from_account": src, "to_account": dst, "amount": amount}, TransferIn)
    return transfers.transfer(ALICE, "app", "k-" + src + dst + amount, body)


def refused(call: Any, code: str) -> None:
    with pytest.raises(ApiError) as info:
        call()
    assert info.value.code == code, info.value.code


def out_key(account: str, period: str = DAY) -> str:
    return f"ACCT#{account}#OUT#{period}"


def in_key(account: str, period: str = DAY) -> str:
    return f"ACCT#{account}#IN#{period}"


def cond_max(update: dict[str, Any]) -> int:
    """The most usage the write accepts before adding (usage <= cap - amount)."""
    return int(update["ExpressionAttributeValues"][":amt_max"]["N"])


# --- Type II outflow: 10,000.00 a day, 200,000.00 a year --------------------------------------------------

def test_type_ii_daily_outflow_reached_exactly(bank: ScriptedBank) -> None:
    src, dst = bank.account("ii-alice", "II", 5_000_000), bank.account("i-bobby", "I", 0, owner="bob")
    bank.used(out_key(src), 900_000)  # 9,000.00 out today
    transfer(src, dst, "1000.00")  # 9,000.00 + 1,000.00 = 10,000.00: allowed
    assert cond_max(bank.updates()[out_key(src)]) == 900_000  # the write holds the same line


def test_type_ii_daily_outflow_exceeded_by_one_fen(bank: ScriptedBank) -> None:
    src, dst = bank.account("ii-alice", "II", 5_000_000), bank.account("i-bobby", "I", 0, owner="bob")
    bank.used(out_key(src), 900_000)
    refused(lambda: transfer(src, dst, "1000.01"), "LIMIT_EXCEEDED")
    assert bank.written == [] and len(bank.refusals) == 1  # nothing moved; the refusal is the key's outcome


def test_type_ii_yearly_outflow_boundaries(bank: ScriptedBank) -> None:
    src, dst = bank.account("ii-alice", "II", 5_000_000), bank.account("i-bobby", "I", 0, owner="bob")
    bank.used(out_key(src, YEAR), 19_900_000)  # 199,000.00 out this year
    transfer(src, dst, "1000.00")
    assert cond_max(bank.updates()[out_key(src, YEAR)]) == 19_900_000
    refused(lambda: transfer(src, dst, "1000.01"), "LIMIT_EXCEEDED")


def test_type_ii_outflow_to_its_bound_account_does_not_count(bank: ScriptedBank) -> None:
    bound = bank.account("i-owned", "I", 0)
    src = bank.account("ii-alice", "II", 5_000_000, bound=bound)
    bank.used(out_key(src), 1_000_000)  # the day's cap is used up
    transfer(src, bound, "15000.00")  # 15,000.00 > 10,000.00, and still allowed: bound account
    assert out_key(src) not in bank.updates() and out_key(src, YEAR) not in bank.updates()


def test_wealth_purchases_do_not_count(bank: ScriptedBank) -> None:
    src = bank.account("ii-alice", "II", 5_000_000)
    bank.used(out_key(src), 1_000_000)
    result = holds.hold({"caller": "finance", "idempotency_key": "wealth-0001", "customer_id": "alice",
                         "account_id": src, "amount": "15000.00", "txn_type": "wealth_purchase", "channel": "app"})
    assert result["status"] == "active"
    assert out_key(src) not in bank.updates()
    refused(lambda: holds.hold({"caller": "life", "idempotency_key": "bill-00001", "customer_id": "alice",
                                "account_id": src, "amount": "0.01", "txn_type": "bill_pay", "channel": "app"}),
            "LIMIT_EXCEEDED")  # a bill payment does count


# --- Type II inflow from outside its binding: 10,000.00 a day, 200,000.00 a year ---------------------------

def test_type_ii_daily_inflow_boundaries(bank: ScriptedBank) -> None:
    src, dst = bank.account("i-bobby", "I", 5_000_000, owner="bob"), bank.account("ii-alice", "II", 0)
    bank.used(in_key(dst), 999_999)  # 9,999.99 in today
    as_bob = Principal("bob", "customer", channel="app", auth_level="L1")
    body = schema.decode({"from_account": src, "to_account": dst, "amount": "0.01"}, TransferIn)
    transfers.transfer(as_bob, "app", "k-in-1", body)  # exactly 10,000.00
    assert cond_max(bank.updates()[in_key(dst)]) == 999_999
    body = schema.decode({"from_account": src, "to_account": dst, "amount": "0.02"}, TransferIn)
    with pytest.raises(ApiError) as info:
        transfers.transfer(as_bob, "app", "k-in-2", body)
    assert info.value.code == "PAYEE_CANNOT_RECEIVE"  # a payer is told nothing more specific


def test_type_ii_yearly_inflow_boundaries(bank: ScriptedBank) -> None:
    dst = bank.account("ii-alice", "II", 0)
    bank.used(in_key(dst, YEAR), 19_999_900)  # 199,999.00 in this year
    deposit = {"account_id": dst, "amount": "1.00"}
    transfers.deposit(TELLER, "k-dep-1", schema.decode(deposit, DepositIn))
    assert cond_max(bank.updates()[in_key(dst, YEAR)]) == 19_999_900
    refused(lambda: transfers.deposit(TELLER, "k-dep-2", schema.decode({**deposit, "amount": "1.01"}, DepositIn)),
            "INFLOW_CAP_REACHED")


def test_cash_at_the_counter_counts_as_inflow(bank: ScriptedBank) -> None:
    dst = bank.account("ii-alice", "II", 0)
    bank.used(in_key(dst), 950_000)  # 9,500.00 in today
    transfers.deposit(TELLER, "k-dep-1", schema.decode({"account_id": dst, "amount": "500.00"}, DepositIn))
    refused(lambda: transfers.deposit(TELLER, "k-dep-2", schema.decode({"account_id": dst, "amount": "500.01"},
                                                                          DepositIn)), "INFLOW_CAP_REACHED")


def test_inflow_from_the_bound_account_does_not_count(bank: ScriptedBank) -> None:
    bound = bank.account("i-owned", "I", 10_000_000)
    dst = bank.account("ii-alice", "II", 0, bound=bound)
    bank.used(in_key(dst), 1_000_000)
    transfer(bound, dst, "50000.00")
    assert in_key(dst) not in bank.updates()


# --- Type III: 2,000.00 held at most; outflow 2,000.00 a day, 50,000.00 a year -----------------------------

def test_type_iii_balance_cap_reached_exactly_and_exceeded(bank: ScriptedBank) -> None:
    src, dst = bank.account("i-bobby", "I", 5_000_000, owner="bob"), bank.account("iii-alice", "III", 199_000)
    as_bob = Principal("bob", "customer", channel="app", auth_level="L1")
    body = schema.decode({"from_account": src, "to_account": dst, "amount": "10.00"}, TransferIn)
    transfers.transfer(as_bob, "app", "k-iii-1", body)  # 1,990.00 + 10.00 = 2,000.00
    credit = bank.updates()[dst]
    assert credit["ExpressionAttributeValues"][":maxb"] == {"N": "199000"}  # balance <= 1,990.00 at the write
    body = schema.decode({"from_account": src, "to_account": dst, "amount": "10.01"}, TransferIn)
    with pytest.raises(ApiError) as info:
        transfers.transfer(as_bob, "app", "k-iii-2", body)
    assert info.value.code == "PAYEE_CANNOT_RECEIVE"
    refused(lambda: transfers.deposit(TELLER, "k-dep", schema.decode({"account_id": dst, "amount": "10.01"},
                                                                       DepositIn)), "BALANCE_CAP_REACHED")


def test_type_iii_credits_always_keep_the_lock(bank: ScriptedBank) -> None:
    """Its balance cap must hold at every moment, so a Type III payee is never credited through the journal."""
    src, dst = bank.account("i-bobby", "I", 5_000_000, owner="bob"), bank.account("iii-alice", "III", 0)
    hot.remember({dst})
    as_bob = Principal("bob", "customer", channel="app", auth_level="L1")
    transfers.transfer(as_bob, "app", "k-iii", schema.decode({"from_account": src, "to_account": dst,
                                                               "amount": "1.00"}, TransferIn))
    assert dst in bank.updates() and not any("JOURNAL" in str(p.item) for p in bank.written[-1])


def test_type_iii_daily_outflow_boundaries(bank: ScriptedBank) -> None:
    src, dst = bank.account("iii-alice", "III", 200_000), bank.account("i-bobby", "I", 0, owner="bob")
    bank.used(out_key(src), 150_000)  # 1,500.00 out today
    transfer(src, dst, "500.00")
    assert cond_max(bank.updates()[out_key(src)]) == 150_000
    refused(lambda: transfer(src, dst, "500.01"), "LIMIT_EXCEEDED")


def test_type_iii_yearly_outflow_boundaries(bank: ScriptedBank) -> None:
    src, dst = bank.account("iii-alice", "III", 200_000), bank.account("i-bobby", "I", 0, owner="bob")
    bank.used(out_key(src, YEAR), 4_999_999)  # 49,999.99 out this year
    transfer(src, dst, "0.01")
    assert cond_max(bank.updates()[out_key(src, YEAR)]) == 4_999_999
    refused(lambda: transfer(src, dst, "0.02"), "LIMIT_EXCEEDED")


def test_type_iii_outflow_to_its_bound_account_does_not_count(bank: ScriptedBank) -> None:
    bound = bank.account("i-owned", "I", 0)
    src = bank.account("iii-alice", "III", 200_000, bound=bound)
    bank.used(out_key(src), 200_000)
    transfer(src, bound, "2000.00")
    assert out_key(src) not in bank.updates()


def test_type_i_has_no_pboc_caps(bank: ScriptedBank) -> None:
    src, dst = bank.account("i-alice", "I", 10_000_000), bank.account("i-bobby", "I", 0, owner="bob")
    transfer(src, dst, "50000.00")  # the bank's single cap (50,000.00 at L1) reached exactly
    assert not any(k.startswith("ACCT#") for k in bank.updates())
    refused(lambda: transfer(src, dst, "50000.01"), "LIMIT_EXCEEDED")  # the bank's, not PBOC's


# --- same-day reversal gives the quota back ---------------------------------------------------------------

def original_transfer(at: datetime) -> LedgerTransaction:
    deltas = [limits.UsageDelta(out_key("ii-alice", limits.period_key("daily", at)), 100_000, 1),
              limits.UsageDelta(out_key("ii-alice", limits.period_key("yearly", at)), 100_000, 1),
              limits.UsageDelta(in_key("ii-bobby", limits.period_key("daily", at)), 100_000, 1)]
    return LedgerTransaction("TXN#alice#k-1", "TXN", outcome="completed", transfer_id="f" * 32, tid="f" * 32,
                             kind="transfer", request_hash="h", created_at=movements.now_iso(at),
                             legs='[{"account": "ii-alice", "direction": "debit", "amount": 100000},'
                                  ' {"account": "ii-bobby", "direction": "credit", "amount": 100000}]',
                             usage=limits.deltas_json(deltas))


@pytest.mark.parametrize(("transferred", "reversed_at", "returned"), [
    # 23:59:00 and 23:59:59 on 26 November in Shanghai: the same day, the quota comes back
    (datetime(2026, 11, 26, 15, 59, tzinfo=UTC), datetime(2026, 11, 26, 15, 59, 59, tzinfo=UTC), True),
    # 23:59:00 on the 26th, reversed at 00:00:00 on the 27th (Shanghai): a later day, no quota back
    (datetime(2026, 11, 26, 15, 59, tzinfo=UTC), datetime(2026, 11, 26, 16, 0, tzinfo=UTC), False),
])
def test_a_same_day_reversal_gives_the_quota_back(bank: ScriptedBank, monkeypatch: pytest.MonkeyPatch,
                                                  transferred: datetime, reversed_at: datetime,
                                                  returned: bool) -> None:
    bank.account("ii-alice", "II", 0)
    bank.account("ii-bobby", "II", 100_000, owner="bob")
    monkeypatch.setattr(store, "record_by_transfer_id", lambda tid: original_transfer(transferred))
    monkeypatch.setattr(transfers, "datetime", _clock(reversed_at))
    body = schema.decode({"transfer_id": "f" * 32, "reason": "sent twice"}, ReversalIn)
    out = transfers.reverse(TELLER, "k-rev", body)
    assert out["quota_returned"] is returned
    day = limits.period_key("daily", transferred)
    given_back = {k: u["ExpressionAttributeValues"][":amt"]["N"] for k, u in bank.updates().items()
                  if k.startswith("ACCT#")}
    if returned:
        assert given_back == {out_key("ii-alice", day): "-100000", out_key("ii-alice", YEAR): "-100000",
                              in_key("ii-bobby", day): "-100000"}
    else:
        assert given_back == {}


def test_after_a_same_day_reversal_the_quota_admits_the_amount_again(bank: ScriptedBank) -> None:
    """10,000.00 out (the day's cap), 1,000.00 of it reversed the same day: exactly 1,000.00 fits again."""
    src, dst = bank.account("ii-alice", "II", 5_000_000), bank.account("i-bobby", "I", 0, owner="bob")
    bank.used(out_key(src), 1_000_000)
    refused(lambda: transfer(src, dst, "0.01"), "LIMIT_EXCEEDED")
    bank.used(out_key(src), 1_000_000 - 100_000)  # what the reversal's give-back leaves
    transfer(src, dst, "1000.00")
    refused(lambda: transfer(src, dst, "1000.01"), "LIMIT_EXCEEDED")


def test_no_agreement_no_transfer(bank: ScriptedBank, monkeypatch: pytest.MonkeyPatch) -> None:
    src, dst = bank.account("ii-alice", "II", 5_000_000), bank.account("i-bobby", "I", 0, owner="bob")
    load = bank.load

    def unsigned(reads: store.Reads) -> store.Snapshot:
        snapshot = load(reads)
        return store.Snapshot(snapshot.accounts, snapshot.usage, snapshot.definitions, {}, snapshot.holds)

    monkeypatch.setattr(store, "load", unsigned)
    refused(lambda: transfer(src, dst, "1.00"), agreements.AgreementRequired.code)


def test_period_boundary_at_shanghai_midnight(bank: ScriptedBank, monkeypatch: pytest.MonkeyPatch) -> None:
    """A day's outflow usage counts until 23:59:59.999999 Shanghai time; at 00:00 the cap starts afresh."""
    src, dst = bank.account("ii-alice", "II", 5_000_000), bank.account("i-bobby", "I", 0, owner="bob")
    midnight = datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # 00:00 on 27 November in Shanghai
    bank.used(out_key(src, "D20261126"), 1_000_000)
    monkeypatch.setattr(transfers, "datetime", _clock(midnight - timedelta(microseconds=1)))
    refused(lambda: transfer(src, dst, "0.01"), "LIMIT_EXCEEDED")
    monkeypatch.setattr(transfers, "datetime", _clock(midnight))
    transfer(src, dst, "10000.00")
    assert out_key(src, "D20261127") in bank.updates()
