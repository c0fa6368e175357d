"""Hot payees on DynamoDB Local: 16 payers paying one payee at once against 16 payers paying 16 payees, on the
same run, in alternating chunks (the ratio is the median of paired chunks, as the throughput bench pairs its
loops). The one payee is an ordinary Type I account (a popular payee: nothing marks it hot; its first lost
race moves its credits to its journal), and, for comparison, a settlement account (flagged hot). Then the
journal is folded: the payee's balance and statement must be exact. No client may see CONCURRENT_UPDATE.

transfers.transfer is called directly by 16 threads (the Chalice test client is not thread-safe), each with
its own payer, so payers never contend with each other: only the payee is shared.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections import Counter
from typing import Any

from benchkit import write_json

from tests.support.figures import report

PAYERS = 16
PER_THREAD = 5  # transfers per payer per chunk
CHUNKS = 6
TARGET = 0.8


def _run(bank: Any, payers: list[tuple[str, str]], payees: list[str], errors: Counter[str]) -> float:
    """Every payer sends PER_THREAD transfers of 1.00 to its payee (payees[i], or the one payee) at once."""
    from account_center import transfers
    from account_center.schemas import TransferIn
    from bank_common import schema
    from bank_common.errors import ApiError

    barrier = threading.Barrier(len(payers) + 1)

    def payer(i: int) -> None:
        customer, account = payers[i]
        payee = payees[i % len(payees)]
        barrier.wait()
        for _ in range(PER_THREAD):
            body = schema.decode({"from_account": account, "to_account": payee, "amount": "1.00", "memo": "bench"},
                                 TransferIn)
            try:
                transfers.transfer(bank.principal(customer), "app", "k-" + uuid.uuid4().hex, body)
            except ApiError as exc:
                errors[exc.code] += 1

    threads = [threading.Thread(target=payer, args=(i,)) for i in range(len(payers))]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def _exact(bank: Any, account_id: str, expected_fen: int) -> tuple[bool, int]:
    """The account's balance is what it received, and its statement's running balance is exact."""
    from account_center import store

    account = store.get_account(account_id)
    entries: list[Any] = []
    before = None
    while True:
        page, cursor = store.statement(account_id, 100, before)
        entries += page
        if cursor is None:
            break
        before = int(cursor)
    running, ok = 0, True
    for entry in reversed(entries):
        running += int(entry.amount) if entry.direction == "credit" else -int(entry.amount)
        ok = ok and int(entry.balance_after) == running
    return ok and account is not None and int(account.balance) == expected_fen == running, len(entries)


def test_hot_payee_ratio(dynamo, bank) -> None:
    from account_center import fold, hot

    hot.forget()
    payers = [bank.customer_with_account("5000.00") for _ in range(PAYERS)]
    distinct = [bank.customer_with_account(account_type="I")[1] for _ in range(PAYERS)]
    popular = bank.customer_with_account(account_type="I")[1]
    flagged = bank.customer_with_account(account_type="I", hot=True)[1]
    errors: dict[str, Counter[str]] = {name: Counter() for name in ("distinct", "popular", "flagged")}
    _run(bank, payers, distinct, Counter())  # warm-up of every path
    seconds: dict[str, list[float]] = {name: [] for name in errors}
    for _ in range(CHUNKS):
        seconds["distinct"].append(_run(bank, payers, distinct, errors["distinct"]))
        seconds["popular"].append(_run(bank, payers, [popular], errors["popular"]))
        seconds["flagged"].append(_run(bank, payers, [flagged], errors["flagged"]))
    n = PAYERS * PER_THREAD
    rates = {name: n * CHUNKS / sum(s) for name, s in seconds.items()}
    ratios = {name: statistics.median(d / s for d, s in zip(seconds["distinct"], seconds[name], strict=True))
              for name in ("popular", "flagged")}
    # Fold what went through the journals, and check the payees are exact.
    started = time.perf_counter()
    folded = fold.fold_account(popular) + fold.fold_account(flagged)
    fold_seconds = time.perf_counter() - started
    expected = {name: (CHUNKS * n - sum(errors[name].values())) * 100 for name in ("popular", "flagged")}
    exact = {name: _exact(bank, account, expected[name]) for name, account in
             (("popular", popular), ("flagged", flagged))}
    figures = {"payers": PAYERS, "transfers_per_chunk": n, "chunks": CHUNKS, "transfers_per_s": rates,
               "ratio_vs_distinct": ratios, "target": TARGET, "errors": {k: dict(v) for k, v in errors.items()},
               "folded": folded, "fold_per_s": folded / fold_seconds if fold_seconds else None,
               "exact_after_fold": {k: v[0] for k, v in exact.items()}}
    report(f"\n  Hot payee on DynamoDB Local: {PAYERS} payers, {CHUNKS} alternating chunks of {n} transfers each")
    report(f"    16 payers -> 16 payees                      {rates['distinct']:8.1f} /s")
    report(f"    16 payers -> 1 popular payee (Type I)       {rates['popular']:8.1f} /s   ratio "
           f"{ratios['popular']:.2f} (target >= {TARGET}: {'MET' if ratios['popular'] >= TARGET else 'MISSED'})")
    report(f"    16 payers -> 1 settlement account (hot)     {rates['flagged']:8.1f} /s   ratio "
           f"{ratios['flagged']:.2f}")
    report(f"    refusals: {figures['errors']} (CONCURRENT_UPDATE: "
           f"{sum(e['CONCURRENT_UPDATE'] for e in errors.values())})")
    report(f"    journal folded: {folded} postings in {fold_seconds:.2f}s ({figures['fold_per_s']:.0f}/s); "
           f"balance and statement exact: {figures['exact_after_fold']}")
    write_json("hot_payee", figures)
    assert all(e["CONCURRENT_UPDATE"] == 0 for e in errors.values()), errors
    assert all(ok for ok, _ in exact.values()), exact
    hot.forget()
