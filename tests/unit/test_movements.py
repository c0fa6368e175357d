"""The money-operation engine (account_center.movements) against a scripted store: what is replayed, what is
recorded as a refusal, what is retried, and when a lost race on a payee moves its credit to the journal."""

from __future__ import annotations

from typing import Any

import pytest

from account_center import hot, movements, store
from bank_common.ddb import Cancellation
from bank_common.errors import Conflict, InsufficientFunds, LimitExceeded


class Script:
    """Stands in for the store: each commit pops the next outcome (None: it committed)."""

    def __init__(self, outcomes: list[Exception | None]) -> None:
        self.outcomes = outcomes
        self.reads = 0
        self.commits: list[list[store.Part]] = []

    def load(self, reads: store.Reads) -> Any:
        self.reads += 1
        return object()

    def commit(self, record: Any, parts: list[store.Part]) -> None:
        self.commits.append(parts)
        outcome = self.outcomes.pop(0)
        if outcome is not None:
            raise outcome


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Any:
    def make(*outcomes: Exception | None) -> Script:
        s = Script(list(outcomes))
        monkeypatch.setattr(store, "load", s.load)
        monkeypatch.setattr(store, "commit", s.commit)
        monkeypatch.setattr(movements.time, "sleep", lambda seconds: None)
        hot.forget()
        return s

    return make


class Recorder:
    def __init__(self) -> None:
        self.replayed: list[Any] = []
        self.refused: list[Exception] = []

    def outcomes(self) -> movements.Outcomes:
        def replay(old: Any) -> dict[str, Any]:
            self.replayed.append(old)
            return {"replayed": True}

        def refuse(error: Any) -> dict[str, Any]:
            self.refused.append(error)
            raise error

        return movements.Outcomes(replay, refuse)


PAYER = store.Part({}, "payer", lambda old: InsufficientFunds() if old and old.get("poor") else None, "payer-acct")
PAYEE = store.Part({}, "payee", lambda old: None, "payee-acct")
LIMIT = store.Part({}, "payer", lambda old: LimitExceeded())
FAILED = Cancellation("ConditionalCheckFailed", {"version": "changed"})


def decide_with(parts: list[store.Part], seen: list[movements.Attempt] | None = None) -> movements.Decide:
    def decide(snapshot: Any, attempt: movements.Attempt) -> movements.Plan:
        if seen is not None:
            seen.append(movements.Attempt(set(attempt.journal)))
        credit = PAYEE if "payee-acct" not in attempt.journal else store.Part({"journal": True})
        return movements.Plan({"record": True}, [p for p in parts if p is not PAYEE] + [credit], {"ok": True},
                              journal_fallback={"payee-acct"})

    return decide


def test_a_commit_answers_the_new_response(script: Any) -> None:
    s = script(None)
    assert movements.run(store.Reads(), decide_with([PAYER, PAYEE]), Recorder().outcomes()) == {"ok": True}
    assert s.reads == 1 and len(s.commits) == 1


def test_a_duplicate_key_replays_the_first_outcome(script: Any) -> None:
    script(store.Duplicate({"first": True}))
    rec = Recorder()
    assert movements.run(store.Reads(), decide_with([PAYER, PAYEE]), rec.outcomes()) == {"replayed": True}
    assert rec.replayed == [{"first": True}] and rec.refused == []


def test_a_refusal_on_the_read_is_recorded(script: Any) -> None:
    s = script()
    rec = Recorder()

    def decide(snapshot: Any, attempt: movements.Attempt) -> movements.Plan:
        raise InsufficientFunds()

    with pytest.raises(InsufficientFunds):
        movements.run(store.Reads(), decide, rec.outcomes())
    assert len(rec.refused) == 1 and s.commits == []


def test_a_refusal_read_from_a_cancelled_write_is_recorded(script: Any) -> None:
    script(store.Cancelled([(PAYER, Cancellation("ConditionalCheckFailed", {"poor": True})), (LIMIT, None),
                            (PAYEE, None)]))
    rec = Recorder()
    with pytest.raises(InsufficientFunds):
        movements.run(store.Reads(), decide_with([PAYER, LIMIT, PAYEE]), rec.outcomes())
    assert len(rec.refused) == 1


def test_payer_races_are_retried_then_concurrent_update_is_not_recorded(script: Any) -> None:
    races = [store.Cancelled([(PAYER, FAILED), (PAYEE, None)]) for _ in range(movements.MAX_RACES)]
    s = script(*races)
    rec = Recorder()
    with pytest.raises(Conflict) as info:
        movements.run(store.Reads(), decide_with([PAYER, PAYEE]), rec.outcomes())
    assert info.value.code == "CONCURRENT_UPDATE" and not info.value.decides
    assert rec.refused == [] and s.reads == movements.MAX_RACES  # each retry re-read


def test_a_lost_race_on_the_payee_moves_its_credit_to_the_journal(script: Any) -> None:
    s = script(store.Cancelled([(PAYER, None), (PAYEE, FAILED)]), None)
    seen: list[movements.Attempt] = []
    assert movements.run(store.Reads(), decide_with([PAYER, PAYEE], seen), Recorder().outcomes()) == {"ok": True}
    assert [a.journal for a in seen] == [set(), {"payee-acct"}]
    assert s.reads == 1  # the payer's side was as read: the same snapshot is written again
    assert hot.contended("payee-acct")  # and the next credits to it skip its lock for a while


def test_a_lost_payee_lock_with_its_taken_entry_still_moves_the_credit_to_the_journal(script: Any) -> None:
    """DynamoDB reports every failed condition: the payee's version and the statement entry that version
    numbers (E#<version+1>, written by the credit that won). Both are the payee's race, not the payer's."""
    entry = store.Part({}, account_id="payee-acct")
    s = script(store.Cancelled([(PAYER, None), (PAYEE, FAILED), (entry, FAILED)]), None)
    seen: list[movements.Attempt] = []
    assert movements.run(store.Reads(), decide_with([PAYER, PAYEE, entry], seen), Recorder().outcomes()) == \
        {"ok": True}
    assert [a.journal for a in seen] == [set(), {"payee-acct"}] and s.reads == 1


def test_a_payers_taken_entry_is_a_race_of_the_payer(script: Any) -> None:
    payer_entry = store.Part({}, account_id="payer-acct")
    races = [store.Cancelled([(PAYER, None), (PAYEE, FAILED), (payer_entry, FAILED)])] * movements.MAX_RACES
    script(*races)
    with pytest.raises(Conflict):
        movements.run(store.Reads(), decide_with([PAYER, PAYEE, payer_entry]), Recorder().outcomes())


def test_a_payee_that_must_keep_its_lock_is_retried_without_counting_races(script: Any) -> None:
    payee_only = [store.Cancelled([(PAYER, None), (PAYEE, FAILED)]) for _ in range(movements.MAX_RACES + 3)]
    s = script(*payee_only, None)

    def decide(snapshot: Any, attempt: movements.Attempt) -> movements.Plan:  # no journal fallback (Type III)
        return movements.Plan({"record": True}, [PAYER, PAYEE], {"ok": True})

    assert movements.run(store.Reads(), decide, Recorder().outcomes()) == {"ok": True}
    assert s.reads == movements.MAX_RACES + 4


def test_a_payer_race_hides_the_payees_refusal() -> None:
    """Until the payer's side is known to pass, a payee's failed condition is not told (no probing)."""
    from account_center.errors import PayeeCannotReceive

    payee = store.Part({}, "payee", lambda old: PayeeCannotReceive(), "payee-acct")
    refusal, lost = movements.explain(store.Cancelled([(PAYER, FAILED), (payee, FAILED)]))
    assert refusal is None and [p for p, _ in lost] == [PAYER]
    refusal, _ = movements.explain(store.Cancelled([(PAYER, None), (payee, FAILED)]))
    assert isinstance(refusal, PayeeCannotReceive)
