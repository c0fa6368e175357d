"""Which payees to credit through their journal (docs/decisions/0021).

Always: the bank's GL accounts and accounts flagged hot (billers, product collection accounts, marketing
budgets, a merchant ops flag). Also, for a while, any payee whose in-place credit just lost a race in this
execution environment: a popular payee is found by contention itself, and the next credits skip the lock
instead of losing the same race again. Remembered per process (each Lambda environment learns on its own
first lost race); forgetting is harmless, since both ways are exact.
"""

from __future__ import annotations

import time

REMEMBER_SECONDS = 60.0
_contended: dict[str, float] = {}


def remember(account_ids: set[str]) -> None:
    until = time.monotonic() + REMEMBER_SECONDS
    for account_id in account_ids:
        _contended[account_id] = until


def contended(account_id: str) -> bool:
    until = _contended.get(account_id)
    if until is None:
        return False
    if until < time.monotonic():
        _contended.pop(account_id, None)
        return False
    return True


def forget() -> None:
    """Tests: start from a clean slate."""
    _contended.clear()
