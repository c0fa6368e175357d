"""FirstDeposit on the bank's bus: a customer's first credit, from the accounts table's stream (decision 0046).

Nothing is added to the money path: the credit's own transaction is the outbox (an account item moving from
version 0, which only a credit can do, as a new account holds nothing). Here, once per customer: the fact's
marker (`FACT#FIRST_DEPOSIT#<customer>` in the ledger table) is read, the event put, then the marker written.
A failure is reported, so the stream retries from that record; a retry after the put but before the marker puts the same
fact again (`event_id` first-deposit-<customer>), which the marketing center fires once.
"""

from __future__ import annotations

from typing import Any

from account_center import store
from bank_common import events, obs

SOURCE = "bank.account"
CUSTOMER_ACCOUNTS = {"I", "II", "III"}


def first_credit_of(record: dict[str, Any]) -> dict[str, str] | None:
    """The customer and account of a stream record that is an account's first credit (else None)."""
    if record.get("eventName") != "MODIFY":
        return None
    old, new = record["dynamodb"].get("OldImage") or {}, record["dynamodb"].get("NewImage") or {}
    if new.get("account_type", {}).get("S") not in CUSTOMER_ACCOUNTS:
        return None
    if int(old.get("version", {}).get("N", "0")) != 0 or int(new.get("version", {}).get("N", "0")) < 1:
        return None
    if int(new.get("balance", {}).get("N", "0")) <= int(old.get("balance", {}).get("N", "0")):
        return None
    return {"customer_id": new["customer_id"]["S"], "account_type": new["account_type"]["S"]}


def from_stream(event: dict[str, Any]) -> dict[str, Any]:
    """A batch of the accounts table's stream; the first record that could not be announced is reported, so the
    stream retries from there (ReportBatchItemFailures)."""
    for record in event.get("Records") or []:
        first = first_credit_of(record)
        if first is None:
            continue
        try:
            announce(first["customer_id"], first["account_type"])
        except Exception:  # noqa: BLE001 - reported for the stream to retry, and alarmed on
            obs.log().exception("first deposit not announced")
            obs.emit_failure()
            return {"batchItemFailures": [{"itemIdentifier": str(record["dynamodb"].get("SequenceNumber", ""))}]}
    return {"batchItemFailures": []}


def announce(customer_id: str, account_type: str) -> None:
    """FirstDeposit once per customer: the fact read, the event put, the fact written."""
    if store.fact_recorded(first_deposit_key(customer_id)):
        return
    if not events.put_domain_event(SOURCE, events.FIRST_DEPOSIT, customer_id, f"first-deposit-{customer_id}",
                                   {"account_type": account_type}):
        raise RuntimeError("FirstDeposit was not put")
    store.record_fact(first_deposit_key(customer_id))


def first_deposit_key(customer_id: str) -> str:
    return f"FACT#FIRST_DEPOSIT#{customer_id}"
