"""Customer notifications: queued by the user center's own operations, sent by the queue handler."""

from __future__ import annotations

import json
from typing import Any

from bank_common import aws, config, obs, sms
from user_center import store


def enqueue(customer_id: str, template: str) -> None:
    """Queue a notification; a queue outage must not undo the operation that triggered it."""
    try:
        aws.client("sqs").send_message(QueueUrl=config.env("NOTIFICATION_QUEUE_URL"),
                                       MessageBody=json.dumps({"customer_id": customer_id, "template": template}))
    except Exception:  # noqa: BLE001 - logged and alarmed on, never failing the customer's request
        obs.log().exception("notification not queued", extra={"template": template})
        obs.emit_metric("NotificationEnqueueFailed")


def send(message: dict[str, Any]) -> None:
    """Send one queued notification. Raises on failure so SQS retries it, then dead-letters it."""
    if message["template"] not in sms.TEXTS:
        raise ValueError(f"unknown notification template {message['template']!r}")
    customer = store.get_customer(str(message["customer_id"]))
    if customer is None:
        obs.log().warning("notification for unknown customer dropped")
        return
    sms.gateway().send(customer.mobile, sms.SmsMessage.of(message["template"]))
