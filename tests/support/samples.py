"""The sample events of events/: which function each belongs to, and what each must get (shared by the
contract level, which runs them in-process, and the built-artifact smoke test, which runs them from the
built layers and code in a fresh interpreter).

Files are `events/<center>/<operation>.<source>.json` (`sam local invoke <Fn> -e <file>`), where
<operation> is the function's logical id without `Function`, in snake case, optionally without the
center prefix (CreateTransferFunction → create_transfer, UserInternalFunction → internal), and <source>
is the trigger: api, sqs, stream (a DynamoDB stream), schedule, eventbridge (an EventBridge rule's event),
authorizer (the API's Lambda authorizer) or invoke (direct invoke, for functions without events, and for the
targets of schedules a center creates at run time: RUN_TIME_SCHEDULE_TARGETS).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import template

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
FILE_NAME = re.compile(r"^(?P<operation>[a-z0-9_]+)\."
                       r"(?P<source>api|sqs|stream|schedule|authorizer|invoke|eventbridge)\.json$")
TOKEN_PLACEHOLDER = "<TOKEN>"

# What each API sample must get against the freshly created, empty tables: (status, error code or None).
# Anything not listed must succeed with the route's own success status.
API_OUTCOMES: dict[str, tuple[int, str | None]] = {
    "auth/customer_login": (401, "INVALID_CREDENTIALS"),
    "auth/staff_login": (401, "INVALID_CREDENTIALS"),
    "auth/verify_device_login": (401, "OTP_INVALID"),
    "auth/refresh_token": (401, "INVALID_REFRESH_TOKEN"),
    "auth/unbind_device": (404, "DEVICE_NOT_FOUND"),
    "auth/create_step_up": (401, "INVALID_CREDENTIALS"),
    "auth/verify_step_up": (404, "STEP_UP_NOT_FOUND"),
    "auth/change_password": (401, "INVALID_CREDENTIALS"),
    "auth/reset_password": (401, "OTP_INVALID"),
    "user/register_customer": (401, "OTP_INVALID"),
    "user/get_profile": (404, "CUSTOMER_NOT_FOUND"),
    "user/update_profile": (404, "CUSTOMER_NOT_FOUND"),
    "user/update_address": (404, "ADDRESS_NOT_FOUND"),
    "user/delete_address": (404, "ADDRESS_NOT_FOUND"),
    "user/get_risk_assessment": (404, "NO_RISK_ASSESSMENT"),
    "user/list_identities": (404, "IDENTITY_NOT_FOUND"),
    "user/link_identity": (404, "CUSTOMER_NOT_FOUND"),
    "user/unlink_identity": (404, "IDENTITY_NOT_FOUND"),
    "user/channel_login": (404, "IDENTITY_NOT_LINKED"),
    "user/start_kyc": (404, "CUSTOMER_NOT_FOUND"),
    "user/verify_kyc": (404, "KYC_NOT_FOUND"),
    "user/get_kyc": (404, "CUSTOMER_NOT_FOUND"),
    "account/get_account": (404, "ACCOUNT_NOT_FOUND"),
    "account/get_statement": (404, "ACCOUNT_NOT_FOUND"),
    "account/create_transfer": (404, "ACCOUNT_NOT_FOUND"),
    "account/create_deposit": (404, "ACCOUNT_NOT_FOUND"),
    "marketing/get_campaign": (404, "CAMPAIGN_NOT_FOUND"),
    "marketing/edit_campaign": (404, "CAMPAIGN_NOT_FOUND"),
    "marketing/transition_campaign": (404, "CAMPAIGN_NOT_FOUND"),
    "marketing/list_campaign_audit": (404, "CAMPAIGN_NOT_FOUND"),
    "marketing/assign_coupon": (404, "CAMPAIGN_NOT_FOUND"),
    "marketing/dry_run_campaign": (404, "CAMPAIGN_NOT_FOUND"),
    "marketing/get_campaign_figures": (404, "CAMPAIGN_NOT_FOUND"),
    "marketing/preview_campaign": (404, "CAMPAIGN_NOT_FOUND"),
    "account/open_account": (422, "AGREEMENT_REQUIRED"),
    "account/verify_binding": (404, "ACCOUNT_NOT_FOUND"),
    "account/create_outbound_transfer": (404, "ACCOUNT_NOT_FOUND"),
    "account/get_outbound_transfer": (404, "TRANSFER_NOT_FOUND"),
    "account/open_type_i_account": (404, "CUSTOMER_NOT_FOUND"),
    "account/freeze_account": (404, "ACCOUNT_NOT_FOUND"),
    "account/unfreeze_account": (404, "ACCOUNT_NOT_FOUND"),
    "account/close_account": (404, "ACCOUNT_NOT_FOUND"),
    "account/reverse_transfer": (404, "TRANSFER_NOT_FOUND"),
    "contract/get_agreement_template": (404, "AGREEMENT_TEMPLATE_NOT_FOUND"),
    "contract/sign_agreement": (404, "AGREEMENT_TEMPLATE_NOT_FOUND"),
    "contract/get_agreement": (404, "AGREEMENT_NOT_FOUND"),
    "contract/revoke_agreement": (404, "AGREEMENT_NOT_FOUND"),
    "contract/get_remaining_limit": (404, "ACCOUNT_NOT_FOUND"),
    "contract/get_limit_definition_audit": (404, "LIMIT_DEFINITION_NOT_FOUND"),
    "life/pay_bill": (404, "ACCOUNT_NOT_FOUND"),
    "life/get_bill_payment": (404, "ORDER_NOT_FOUND"),
    "life/biller_callback": (401, "BAD_SIGNATURE"),
    "life/get_reconciliation": (404, "REPORT_NOT_FOUND"),
}
# Responses that are not JSON by design.
NON_JSON = {"apidocs/get_api_docs": "text/html"}


# Functions that schedules created at run time invoke with their Input (no SAM event declares those).
RUN_TIME_SCHEDULE_TARGETS = {"MarketingTriggerFunction"}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def operation_names(fn: template.FunctionDef) -> set[str]:
    base = fn.logical_id.removesuffix("Function")
    names = {snake(base)}
    prefix = fn.center.capitalize()
    if base.startswith(prefix) and base != prefix:
        names.add(snake(base[len(prefix):]))
    return names


def authorizer_functions() -> set[str]:
    return {template.authorizer().function.logical_id}


def sources(fn: template.FunctionDef) -> set[str]:
    kinds = {"SQS": "sqs", "DynamoDB": "stream", "Schedule": "schedule", "ScheduleV2": "schedule",
             "EventBridgeRule": "eventbridge"}
    out = {"api" for route in template.api_routes() if route.function.logical_id == fn.logical_id}
    for name, event in fn.events.items():
        assert event.get("Type") in kinds, f"{fn.logical_id}.{name}: no sample convention for {event.get('Type')}"
        out.add(kinds[event["Type"]])
    if fn.logical_id in authorizer_functions():
        out.add("authorizer")
    if not out or fn.logical_id in RUN_TIME_SCHEDULE_TARGETS:
        out.add("invoke")  # no trigger: other centers (or Scheduler, with the schedule's Input) invoke it directly
    return out


@dataclass(frozen=True)
class Sample:
    path: Path
    center: str
    operation: str
    source: str

    @property
    def key(self) -> str:
        return f"{self.center}/{self.operation}"

    def load(self) -> Any:
        return json.loads(self.path.read_text(encoding="utf-8"))


def samples() -> list[Sample]:
    out = []
    for path in sorted(p for p in EVENTS.rglob("*") if p.is_file()):
        rel = path.relative_to(EVENTS)
        match = FILE_NAME.match(path.name)
        center = rel.parts[0] if len(rel.parts) == 2 else ""
        out.append(Sample(path, center, match["operation"] if match else "", match["source"] if match else ""))
    return out


def owner(sample: Sample) -> template.FunctionDef | None:
    """The one function this sample belongs to (same center, operation name and trigger kind)."""
    found = [fn for fn in template.functions() if fn.center == sample.center
             and sample.operation in operation_names(fn) and sample.source in sources(fn)]
    return found[0] if len(found) == 1 else None


def samples_of(source: str) -> list[Sample]:
    return [s for s in samples() if s.source == source]


def ids(sample: Sample) -> str:
    return str(sample.path.relative_to(EVENTS))




def expected_api_outcome(sample: Sample, spec_status: int) -> tuple[int, str | None]:
    """(status, error code or None) the sample must get against fresh, empty tables."""
    return API_OUTCOMES.get(sample.key, (spec_status, None))
