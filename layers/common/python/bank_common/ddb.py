"""DynamoDB helpers: one low-level client, batched reads, transactions with cancellation reasons.

Money paths send wire-format requests so that one BatchGetItem and one TransactWriteItems are the only
round trips; those two go through the lean transport in `dynamo_wire` (decision 0009), everything else
through the botocore client. Items are built from the centers' pynamodb models so the schema lives in
one place.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import cache
from typing import Any

import pynamodb.connection.base
from botocore.config import Config
from botocore.exceptions import ClientError

from bank_common import aws, dynamo_wire, obs


class LazyTableMeta(type):
    """Metaclass for a pynamodb `Meta` whose table name comes from an env var when first used."""

    table_env: str

    @property
    def table_name(cls) -> str:
        name = os.environ.get(cls.table_env)
        if not name:
            raise RuntimeError(f"environment variable {cls.table_env} names this table and is not set")
        return name


@cache
def client() -> Any:
    # Endpoint overrides (DynamoDB Local, moto server) come from AWS_ENDPOINT_URL_DYNAMODB via botocore.
    # Requests are built by our own code and validated by DynamoDB, so botocore's client-side parameter
    # validation (~0.5 ms per transaction) is off, as pynamodb has it for its own client.
    return aws.session().create_client(
        "dynamodb", config=aws.DEFAULT_CONFIG.merge(Config(max_pool_connections=32, parameter_validation=False)))


# pynamodb opens a Connection (its own session and client) per model class; every model uses the one
# process-wide client instead: one session, one client, one endpoint resolution per process.
pynamodb.connection.base.Connection.client = property(lambda self: client())  # type: ignore[assignment,method-assign]


@cache
def transport() -> dynamo_wire.Transport:
    """The money path's transport, on the client's endpoint and the session's credentials."""
    timeouts = (float(aws.DEFAULT_CONFIG.connect_timeout), float(aws.DEFAULT_CONFIG.read_timeout))
    return dynamo_wire.Transport(client(), aws.session().get_credentials(), timeouts)


def call(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    with obs.aws_call("DynamoDB", operation):
        return transport().call(operation, body)


def reset() -> None:
    """Drop cached clients (tests switch between moto and DynamoDB Local)."""
    transport.cache_clear()
    client.cache_clear()
    aws.reset()


def table_name(model: Any) -> str:
    return str(model.Meta.table_name)


def batch_get(keys: dict[str, list[dict[str, Any]]], *, consistent: bool = True) -> dict[str, list[dict]]:
    """One BatchGetItem across tables; retries unprocessed keys (a rare extra round trip)."""
    request = {table: {"Keys": ks, "ConsistentRead": consistent} for table, ks in keys.items() if ks}
    found: dict[str, list[dict]] = {table: [] for table in keys}
    attempt = 0
    while request:
        response = call("BatchGetItem", {"RequestItems": request})
        for table, items in response.get("Responses", {}).items():
            found[table].extend(items)
        request = response.get("UnprocessedKeys") or {}
        attempt += 1
        if request:
            time.sleep(min(0.05 * 2**attempt, 1.0))
    return found


def transact_get(keys: dict[str, list[dict[str, Any]]], *, attempts: int = 5) -> dict[str, list[dict]]:
    """One TransactGetItems across tables: a serializable snapshot, unlike a BatchGetItem, which reads item by
    item (one item may predate a transaction another already shows). Retried when a write races it."""
    gets = [(table, key) for table, ks in keys.items() for key in ks]
    request = {"TransactItems": [{"Get": {"TableName": table, "Key": key}} for table, key in gets]}
    for attempt in range(1, attempts + 1):
        try:
            response = call("TransactGetItems", request)
            break
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("TransactionCanceledException", "TransactionConflictException") or attempt == attempts:
                raise
            time.sleep(min(0.01 * 2**attempt, 0.2))
    found: dict[str, list[dict]] = {table: [] for table in keys}
    for (table, _), answer in zip(gets, response.get("Responses", []), strict=True):
        if answer.get("Item"):
            found[table].append(answer["Item"])
    return found


@dataclass
class Cancellation:
    """Why one item of a cancelled transaction failed."""

    code: str  # ConditionalCheckFailed | TransactionConflict | None | ...
    old_item: dict[str, Any] | None


class TransactionCancelled(Exception):
    def __init__(self, reasons: list[Cancellation]) -> None:
        self.reasons = reasons
        super().__init__(", ".join(r.code for r in reasons))

    def failed(self) -> list[int]:
        return [i for i, r in enumerate(self.reasons) if r.code not in ("None", "")]

    @property
    def conflict(self) -> bool:
        """Only lost races (no business condition failed): safe to re-read and retry."""
        return all(self.reasons[i].code == "TransactionConflict" for i in self.failed())


def transact_write(items: list[dict[str, Any]]) -> None:
    """One TransactWriteItems; cancellation reasons come back per item, with the old item on
    condition failure (each Update/Put/ConditionCheck should ask ReturnValuesOnConditionCheckFailure)."""
    try:
        call("TransactWriteItems", {"TransactItems": items})
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") != "TransactionCanceledException":
            if error.get("Code") == "TransactionConflictException":
                raise TransactionCancelled([Cancellation("TransactionConflict", None)]) from exc
            raise
        reasons = exc.response.get("CancellationReasons") or _reasons_from_message(error.get("Message", ""))
        raise TransactionCancelled(
            [Cancellation(str(r.get("Code") or "None"), r.get("Item")) for r in reasons]
        ) from exc


def _reasons_from_message(message: str) -> list[dict[str, Any]]:
    # Some emulators only put the reasons in the message: "... reasons [None, ConditionalCheckFailed]".
    start, end = message.rfind("["), message.rfind("]")
    if start < 0 or end < start:
        return []
    return [{"Code": part.strip()} for part in message[start + 1:end].split(",")]


def n(value: int) -> dict[str, str]:
    """A DynamoDB number attribute value."""
    return {"N": str(value)}


def s(value: str) -> dict[str, str]:
    return {"S": value}


def put_new(model: Any) -> dict[str, Any]:
    """A transaction Put of a pynamodb model instance that must not exist yet (by its hash key)."""
    return {"Put": {
        "TableName": table_name(type(model)),
        "Item": model.serialize(),
        "ConditionExpression": "attribute_not_exists(#k)",
        "ExpressionAttributeNames": {"#k": type(model)._hash_keyname},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


def delete(model: Any) -> dict[str, Any]:
    """A transaction Delete of a pynamodb model instance (by its keys)."""
    key = {name: value for name, value in model.serialize().items()
           if name in (type(model)._hash_keyname, type(model)._range_keyname)}
    return {"Delete": {"TableName": table_name(type(model)), "Key": key}}
