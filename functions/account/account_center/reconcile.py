"""The ledger reconciliation: every customer account's balance against its own latest ledger entry.

Race-free while money moves: an account's `version` counts its entries, and the entry `E#<version>` is
written in the same transaction that set the balance it records and never changes afterwards. So an
account read at (version v, balance b) must have an entry v whose balance_after is b, whatever commits
after the read: no snapshot of the whole table is needed, and a run can take as long as it likes.

A run walks the accounts a page at a time (Scan with a cursor). When the function's time runs low the
walk hands itself on through a FIFO queue (deduplicated by run and cursor, so a redelivered page does not
fork the walk) and the same function continues. Mismatches are logged and counted in the
`LedgerMismatches` metric as each page finds them (alarmed on); the ledger is never changed here.

The bank's own GL accounts are checked like any other: their postings reach them through the journal,
whose folds write their entries (docs/decisions/0021). Postings still in the journal are not in any balance
yet; `balanced` here is about each account against its own entries.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from account_center import store
from account_center.models import Account
from bank_common import aws, config, obs, pii

PAGE_SIZE = 100
TIME_RESERVE_MS = 3_000  # stop taking pages when less than this is left of the invocation


@dataclass
class Run:
    run: str
    cursor: dict[str, Any] | None = None
    checked: int = 0
    mismatched: list[str] = field(default_factory=list)
    complete: bool = False

    def message(self) -> dict[str, Any]:
        return {"run": self.run, "cursor": self.cursor, "checked": self.checked, "mismatched": self.mismatched}


def mismatch(account: Account) -> bool:
    """True when the account's balance is not what its latest entry says it is."""
    version, balance = int(account.version), int(account.balance)
    if version == 0:
        return balance != 0
    entry = store.entry(account.account_id, version)
    return entry is None or int(entry.balance_after) != balance


def walk(run: Run, page_size: int, remaining_ms: Any) -> Run:
    """Check pages until the walk ends or the invocation's time runs low."""
    while True:
        accounts, run.cursor = store.account_page(run.cursor, page_size)
        found = [pii.mask_text(a.account_id) for a in accounts if mismatch(a)]
        run.checked += len(accounts)
        if found:
            obs.log().error("ledger does not reconcile", extra={"run": run.run, "mismatched": found})
            run.mismatched += found
        obs.emit_metric("LedgerMismatches", len(found))
        if run.cursor is None:
            run.complete = True
            return run
        if remaining_ms() < TIME_RESERVE_MS:
            return run


def hand_on(run: Run) -> None:
    """Queue the rest of the walk for the next invocation of this function."""
    body = json.dumps(run.message(), sort_keys=True)
    aws.client("sqs").send_message(
        QueueUrl=config.env("RECONCILE_QUEUE_URL"), MessageBody=body, MessageGroupId=run.run,
        MessageDeduplicationId=hashlib.sha256(f"{run.run}|{json.dumps(run.cursor)}".encode()).hexdigest())


def finish(run: Run) -> dict[str, Any]:
    summary = {"run": run.run, "checked": run.checked, "mismatched": run.mismatched, "complete": run.complete,
               "balanced": run.complete and not run.mismatched}
    if run.complete:
        obs.log().info("ledger reconciliation finished", extra=summary)
    return summary


def start(event: dict[str, Any], remaining_ms: Any) -> dict[str, Any]:
    """A scheduled run (or ops' direct invoke: {"page_size": n, "hand_on": false} checks everything it can
    in this invocation and says how far it got)."""
    run = walk(Run(str(event.get("id") or uuid.uuid4())), int(event.get("page_size") or PAGE_SIZE), remaining_ms)
    if not run.complete and event.get("hand_on", True):
        hand_on(run)
    return finish(run)


def resume(message: dict[str, Any], remaining_ms: Any) -> None:
    """One continuation from the queue."""
    run = Run(str(message["run"]), message.get("cursor"), int(message.get("checked", 0)),
              list(message.get("mismatched") or []))
    run = walk(run, PAGE_SIZE, remaining_ms)
    if not run.complete:
        hand_on(run)
    finish(run)
