"""Crash points for the proof suite (tests/proof): the handler dies between two steps of a flow, as a Lambda
environment can (a timeout, an out-of-memory kill), to prove the flow converges anyway.

Inert unless `BANK_FAULTS` is set, e.g. `after_commit=0.05,before_enqueue=0.1` (crash point → probability).
No template sets it (a contract test checks): only the local run started with `--faults` gives it to its
workers. A crash is `os._exit`, so nothing after the point runs — no response, no cleanup, no flush.
"""

from __future__ import annotations

import os
import random
from functools import cache


@cache
def _rates(spec: str) -> dict[str, float]:
    rates = {}
    for part in spec.split(","):
        name, _, rate = part.partition("=")
        if name.strip():
            rates[name.strip()] = float(rate or 1)
    return rates


def crash_point(name: str) -> None:
    """Die here with the configured probability (never, outside a fault-injecting local run)."""
    spec = os.environ.get("BANK_FAULTS")
    if not spec:
        return
    rate = _rates(spec).get(name, 0.0)
    if rate > 0 and random.random() < rate:
        os._exit(137)  # like a killed environment: no exception handler, no response
