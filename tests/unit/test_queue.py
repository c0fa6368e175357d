from __future__ import annotations

import json

from bank_common import queue


def record(message_id: str, body: str) -> dict:
    return {"messageId": message_id, "body": body, "eventSource": "aws:sqs"}


def test_failed_messages_are_reported_and_the_rest_handled() -> None:
    handled = []

    def handle(message: dict) -> None:
        if message.get("fail"):
            raise RuntimeError("gateway down")
        handled.append(message["n"])

    event = {"Records": [record("m1", json.dumps({"n": 1})), record("m2", json.dumps({"fail": True})),
                         record("m3", "not json"), record("m4", json.dumps({"n": 4}))]}
    assert queue.process_sqs(event, handle) == {"batchItemFailures": [{"itemIdentifier": "m2"},
                                                                       {"itemIdentifier": "m3"}]}
    assert handled == [1, 4]


def test_empty_batch() -> None:
    assert queue.process_sqs({"Records": []}, lambda m: None) == {"batchItemFailures": []}
