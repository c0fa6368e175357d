"""What the local run's pollers and scheduler do, done by hand for the in-process functional tests (moto):
drain a queue into its function, fold the journal, run the hold sweeper, invoke the account center's
internal operations (holds) as another center would."""

from __future__ import annotations

import json
import uuid
from typing import Any

SCHEDULED = {"version": "0", "id": "test", "detail-type": "Scheduled Event", "source": "aws.scheduler",
             "account": "123456789012", "time": "2026-01-01T00:00:00Z", "region": "ap-east-1", "resources": [],
             "detail": {}}


def pump(runtime: Any, queue_url: str, function: str, rounds: int = 20) -> int:
    """Deliver every message waiting in the queue to its function (as Lambda's poller would), deleting the
    ones it did not report as failed; returns how many were processed."""
    import boto3

    sqs = boto3.client("sqs")
    processed = 0
    for _ in range(rounds):
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages")
        if not got:
            return processed
        records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                    "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs"} for m in got]
        result = runtime.invoke(function, {"Records": records})
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for m in got:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
                processed += 1
        if failed:
            raise AssertionError(f"{function} failed messages: {failed}")
    return processed


def fold(runtime: Any) -> dict[str, Any]:
    """The journal's scheduled fold: every posting waiting is folded into its account."""
    result: dict[str, Any] = runtime.invoke("FoldJournalFunction", SCHEDULED)
    return result


def sweep(runtime: Any) -> dict[str, Any]:
    result: dict[str, Any] = runtime.invoke("HoldSweeperFunction", SCHEDULED)
    return result


def internal(runtime: Any, operation: str, **payload: Any) -> dict[str, Any]:
    """One of the account center's internal operations, as another center calls it ({"ok", "result"|"error"})."""
    reply: dict[str, Any] = runtime.invoke("AccountInternalFunction", {"operation": operation, "payload": payload})
    return reply


def hold(runtime: Any, customer_id: str, account_id: str, amount: str, *, key: str | None = None,
         txn_type: str = "payment", expires_in: int = 900, destination: str | None = None,
         caller: str = "finance") -> dict[str, Any]:
    payload: dict[str, Any] = {"caller": caller, "idempotency_key": key or "h-" + uuid.uuid4().hex,
                               "customer_id": customer_id, "account_id": account_id, "amount": amount,
                               "txn_type": txn_type, "channel": "app", "expires_in_seconds": expires_in}
    if destination:
        payload["destination"] = destination
    return internal(runtime, "hold", **payload)


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    assert reply["ok"], json.dumps(reply)
    result: dict[str, Any] = reply["result"]
    return result


def table(env_name: str) -> list[dict[str, Any]]:
    import os

    import boto3

    return scan_all(boto3.client("dynamodb"), os.environ[env_name])


def scan_all(client: Any, table_name: str) -> list[dict[str, Any]]:
    """Every item of a table (wire format), read consistently, page after page."""
    items, start = [], None
    while True:
        kwargs: dict[str, Any] = {"TableName": table_name, "ConsistentRead": True}
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = client.scan(**kwargs)
        items += page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def money_in_ledger() -> int:
    """Every balance (customer, settlement and the bank's GL accounts) plus every posting still in the
    journal: always zero (customer-liability sign)."""
    balances = sum(int(i["balance"]["N"]) for i in table("ACCOUNTS_TABLE") if "balance" in i)
    return balances + sum(int(i["amount"]["N"]) for i in table("JOURNAL_TABLE"))
