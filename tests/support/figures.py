"""Figures the benchmarks and load tests report: kept here and printed once in pytest's terminal summary,
so a run needs no `-s` (which would also spill every test's JSON log lines onto the terminal)."""

from __future__ import annotations

from typing import Any

LINES: list[str] = []


def report(*parts: Any, sep: str = " ") -> None:
    """Like print(), into the end-of-run "figures" section."""
    LINES.extend(sep.join(str(p) for p in parts).split("\n"))
