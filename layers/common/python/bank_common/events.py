"""Events other centers listen for (the marketing center today): domain events on the bank's EventBridge bus
and profile/behaviour messages on the marketing center's BehaviourQueue.

Sent after the write they describe has committed, best effort (docs/decisions/0045): a send that fails is
logged and counted (metric `EventNotSent`), never failing the customer's request. Every event carries an id
derived from the business fact (`kyc-passed-<customer>`), so a send repeated by a retry is recognised
downstream (the marketing center fires once per event id, counts once per event id).

Environment: `DOMAIN_EVENT_BUS` (the bus's name) for domain events, `BEHAVIOUR_QUEUE_URL` for profile and
behaviour messages; only the functions that emit have them (and the matching grant).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bank_common import aws, config, obs

# The detail-types the marketing center's rule matches (infra/stacks/marketing.yaml, MarketingTriggerFunction).
KYC_PASSED, FIRST_DEPOSIT, WEALTH_MATURED, BIRTHDAY = "KycPassed", "FirstDeposit", "WealthMatured", "Birthday"
PROFILE = "profile"  # the behaviour queue's kind for a profile snapshot


def _instant(at: datetime | None) -> str:
    return (at or datetime.now(UTC)).astimezone(UTC).isoformat()


def put_domain_event(source: str, detail_type: str, customer_id: str, event_id: str,
                     detail: dict[str, Any] | None = None, at: datetime | None = None) -> bool:
    """PutEvents of one domain event about a customer; False (logged, counted) when it could not be sent."""
    body = {**(detail or {}), "customer_id": customer_id, "event_id": event_id, "at": _instant(at)}
    try:
        answer = aws.client("events").put_events(Entries=[{
            "EventBusName": config.env("DOMAIN_EVENT_BUS"), "Source": source, "DetailType": detail_type,
            "Detail": json.dumps(body, separators=(",", ":"), sort_keys=True)}])
        if answer.get("FailedEntryCount"):
            raise RuntimeError(str(answer["Entries"][0].get("ErrorCode")))
    except Exception as exc:  # noqa: BLE001 - best effort (decision 0045): the business write stands
        return _not_sent(detail_type, exc)
    return True


def send_behaviour(customer_id: str, kind: str, event_id: str, profile: dict[str, Any] | None = None,
                   at: datetime | None = None) -> bool:
    """One message on the BehaviourQueue in the shape IngestBehaviour decodes (BehaviourEventIn): `kind`
    "profile" carries the whole profile snapshot, any other kind is counted."""
    body: dict[str, Any] = {"event_id": event_id, "customer_id": customer_id, "kind": kind, "at": _instant(at)}
    if profile is not None:
        body["profile"] = profile
    try:
        aws.client("sqs").send_message(QueueUrl=config.env("BEHAVIOUR_QUEUE_URL"),
                                       MessageBody=json.dumps(body, separators=(",", ":"), sort_keys=True))
    except Exception as exc:  # noqa: BLE001 - best effort (decision 0045): the business write stands
        return _not_sent(kind, exc)
    return True


def send_profile(customer_id: str, event_id: str, profile: dict[str, Any], at: datetime | None = None) -> bool:
    return send_behaviour(customer_id, PROFILE, event_id, profile, at)


def _not_sent(kind: str, exc: Exception) -> bool:
    obs.log().error("event not sent", extra={"kind": kind, "problem": type(exc).__name__})
    obs.emit_metric("EventNotSent")  # by center, as its alarm watches it; the log names the kind
    return False
