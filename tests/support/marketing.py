"""Marketing staff as the tests drive them: campaign bodies, a marketer's login, and the Lambda-invoke calls
other centers make for budgets (in process through the runtime, or over HTTP through the local run's Invoke
API)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from tests.support.api import Api

MARKETER_USER, MARKETER_PASSWORD = "marketer01", "Marketer-passw0rd"
SHANGHAI = timedelta(hours=8)
PATH = "/v1/ops/marketing/campaigns"


def at(offset: timedelta) -> str:
    """An instant relative to now, written as staff in Shanghai would (RFC 3339 with +08:00)."""
    local = datetime.now(UTC).astimezone(timezone(SHANGHAI)) + offset
    return local.replace(microsecond=0).isoformat()


def campaign_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Year-end coupon " + uuid.uuid4().hex[:6], "kind": "coupon",
        "starts_at": at(timedelta(days=1)), "ends_at": at(timedelta(days=30)), "channels": ["app", "wechat_mp"],
        "offer": {"amount": "10.00", "min_spend": "100.00"},
        "budgets": [{"action": "redeem", "limit": 100_000, "period": "campaign", "entity": "campaign"}],
        "holdout_percent": 10,
    }
    body.update(overrides)
    return body


def running_campaign(api: Api, marketer: str, **overrides: Any) -> str:
    """A campaign that started a minute ago, scheduled (so running): its id."""
    body = campaign_body(starts_at=at(timedelta(minutes=-1)), **overrides)
    r = api.call("POST", PATH, body, token=marketer, channel="web")
    assert r.status == 201, r.body
    campaign_id = str(r.body["campaign_id"])
    r = api.call("POST", f"{PATH}/{campaign_id}/transitions", {"action": "schedule"}, token=marketer, channel="web")
    assert r.status == 200 and r.body["state"] == "running", r.body
    return campaign_id


def reserve_event(campaign_id: str, amount: int, customer: str = "c-0001", device: str = "",
                  reservation_id: str | None = None, action: str = "redeem") -> dict[str, Any]:
    return {"operation": "reserve_budget", "payload": {
        "campaign_id": campaign_id, "reservation_id": reservation_id or "r-" + uuid.uuid4().hex,
        "action": action, "amount": amount, "customer_id": customer, "device_id": device}}


def invoke_over_http(lambda_client: Any, event: dict[str, Any]) -> dict[str, Any]:
    """What another center does: invoke the marketing center's internal function through the Lambda API."""
    reply = lambda_client.invoke(FunctionName="local-MarketingInternalFunction:live",
                                 Payload=json.dumps(event).encode())
    assert not reply.get("FunctionError"), reply
    result: dict[str, Any] = json.loads(reply["Payload"].read())
    return result
