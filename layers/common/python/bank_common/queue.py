"""SQS queue handlers with partial batch responses (the function's event source has
`FunctionResponseTypes: [ReportBatchItemFailures]`): a failed message is retried, then dead-lettered,
without re-running the ones that succeeded.

Written out here instead of Powertools' BatchProcessor, whose import (asyncio plus every event data
class, ~30-55 ms) was most of a queue function's cold start (docs/decisions/0008).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bank_common import obs


def process_sqs(event: dict[str, Any], handle: Callable[[Any], None], *, parse: bool = True) -> dict[str, Any]:
    """Run `handle` on each message body (parsed JSON, or the text as it is with parse=False); report the ids
    of those that raised."""
    failures = []
    for record in event.get("Records") or []:
        message_id = record.get("messageId", "")
        try:
            handle(json.loads(record["body"]) if parse else record["body"])
        except Exception:  # noqa: BLE001 - reported to SQS for retry, logged for the alarm
            obs.log().exception("queue message failed", extra={"message_id": message_id})
            obs.emit_failure()
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}
