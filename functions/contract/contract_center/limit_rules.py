"""Limit definitions: the bank's defaults (channel x transaction type x authentication level) and the PBOC
account-type caps, which ops change under an audit trail; customers' own limits, lowered freely and raised
(up to the bank's cap) only with a step-up; and "how much can I still send today".

The money path never calls this center: it reads the same definitions and usage items in its own batched
read (bank_common.limits), so what is shown here is what a transfer will be held to.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from bank_common import client, limits, obs, stepup
from bank_common.errors import ApiError, BusinessRuleViolation, Conflict, NotFound
from bank_common.limits import AUTH_LEVELS, LimitDefinition
from bank_common.money import format_fen
from bank_common.principal import Principal
from contract_center import defaults, store
from contract_center.schemas import (
    AuditEntry,
    AuditTrail,
    Caps,
    DefinitionIn,
    DefinitionList,
    DefinitionOut,
    LimitsOut,
    LimitView,
    OwnLimitsIn,
    PeriodLeft,
    RemainingOut,
)

CUSTOMER_FIELDS = ("single_amount", "daily_amount", "daily_count", "monthly_amount", "monthly_count",
                   "yearly_amount", "yearly_count")


class AboveBankCap(BusinessRuleViolation):
    code, message = "LIMIT_ABOVE_BANK_CAP", "A customer's own limit cannot exceed the bank's."


class AbovePbocCap(BusinessRuleViolation):
    code, message = "LIMIT_ABOVE_PBOC_CAP", "An account type's caps cannot exceed what PBOC allows."


class DefinitionNotFound(NotFound):
    code, message = "LIMIT_DEFINITION_NOT_FOUND", "No such limit definition."


class DefinitionChanged(Conflict):
    code, message = "LIMIT_DEFINITION_CHANGED", "The definition changed since it was read; read it again."


def values_of(item: LimitDefinition | dict[str, Any] | None, fields: tuple[str, ...]) -> dict[str, int]:
    """field → value of a definition (a model, or a wire-format item), only those set."""
    if item is None:
        return {}
    if isinstance(item, dict):
        return {f: int(item[f]["N"]) for f in fields if f in item and "N" in item[f]}
    return {f: int(getattr(item, f)) for f in fields if getattr(item, f) is not None}


def shown(values: dict[str, int]) -> dict[str, str | int]:
    return {k: v if k.endswith("_count") else format_fen(v) for k, v in values.items()}


def caps_out(values: dict[str, int]) -> Caps:
    return Caps(**shown(values))  # type: ignore[arg-type]


# --- seeding -------------------------------------------------------------------------------------------

def seed_bank_defaults(payload: dict[str, Any]) -> dict[str, Any]:
    """Write the initial definitions that are not there yet (never overwrites what ops changed). With
    {"dry_run": true}, only say how many are missing."""
    written = present = 0
    wanted: list[tuple[str, dict[str, int]]] = [
        (limits.bank_key(txn_type, channel, level), caps)
        for txn_type, levels in defaults.BANK_DEFAULTS.items() for level, caps in levels.items()
        for channel in defaults.CHANNELS]
    wanted += [(limits.account_type_key(t), caps) for t, caps in defaults.PBOC_CAPS.items()]
    existing = store.definitions([pk for pk, _ in wanted])
    if payload.get("dry_run"):
        return {"missing": sum(1 for pk, _ in wanted if pk not in existing), "present": len(existing)}
    for pk, caps in wanted:
        if pk in existing:
            present += 1
            continue
        item = LimitDefinition(pk, limits.CURRENT, revision=1, updated_by="seed", updated_at=store.now(),
                               reason="initial definition", **dict[str, Any](caps))
        try:
            store.save_definition(item, None, None)
            written += 1
        except store.RevisionChanged:
            present += 1
    return {"written": written, "present": present}


# --- the customer's view -------------------------------------------------------------------------------

def view(caller: Principal, channel: str, txn_type: str | None) -> LimitsOut:
    types = [txn_type] if txn_type else list(defaults.BANK_DEFAULTS)
    found = store.definitions([k for t in types for k in (limits.bank_key(t, channel, caller.auth_level),
                                                          limits.customer_key(caller.subject, t, channel))])
    items = []
    for t in types:
        bank = values_of(found.get(limits.bank_key(t, channel, caller.auth_level)), CUSTOMER_FIELDS)
        own = values_of(found.get(limits.customer_key(caller.subject, t, channel)), CUSTOMER_FIELDS)
        effective = {f: min(v for v in (bank.get(f), own.get(f)) if v is not None)
                     for f in CUSTOMER_FIELDS if f in bank or f in own}
        items.append(LimitView(txn_type=t, channel=channel, auth_level=caller.auth_level, bank=caps_out(bank),
                               own=caps_out(own), effective=caps_out(effective)))
    return LimitsOut(items=items)


def set_own(caller: Principal, channel: str, txn_type: str, body: OwnLimitsIn,
            step_up_token: str | None = None) -> LimitView:
    """The customer's own limits for one transaction type on this channel: every value at most the bank's
    cap (at its highest authentication level); raising one that was set, or removing it, needs a step-up
    token for exactly this request (this txn type and all these values), spent in the same transaction as
    the write (docs/decisions/0017)."""
    new = limits.caps_values(body)
    bank_keys = [limits.bank_key(txn_type, channel, level) for level in AUTH_LEVELS]
    bank = store.definitions(bank_keys)
    ceiling = values_of(bank.get(limits.bank_key(txn_type, channel, AUTH_LEVELS[-1])), CUSTOMER_FIELDS)
    over = {f: v for f, v in new.items() if f in ceiling and v > ceiling[f]}
    if over:
        raise AboveBankCap(details=shown({f: ceiling[f] for f in over}))
    pk = limits.customer_key(caller.subject, txn_type, channel)
    current = store.definition(pk)
    old = values_of(current, CUSTOMER_FIELDS)
    raised = [f for f, v in old.items() if f not in new or new[f] > v]
    grant = None
    if raised:
        if not step_up_token:
            raise stepup.StepUpRequired(details={"operation": stepup.LIMIT_RAISE, "raised": raised,
                                                 "header": stepup.HEADER})
        grant = stepup.verify_hash(step_up_token, caller, stepup.LIMIT_RAISE, stepup.limit_raise_hash(txn_type, new))
    _save(pk, current, new, CUSTOMER_FIELDS, caller.subject, "customer's own limits",
          None if current is None else int(current.revision), grant)
    return view(caller, channel, txn_type).items[0]


# --- how much can I still send today -------------------------------------------------------------------

def remaining(caller: Principal, channel: str, txn_type: str, account_id: str | None) -> RemainingOut:
    at = datetime.now(UTC)
    ctx = limits.LimitContext(customer_id=caller.subject, channel=channel, txn_type=txn_type,
                              auth_level=caller.auth_level, amount=0, at=at)
    account_type = None
    if account_id:
        # Which PBOC caps apply: the account center knows the account's type (not the money path).
        summary = client.call("account", "account_summary", {"account_id": account_id, "customer_id": caller.subject})
        account_type = str(summary["type"])
    keys = limits.customer_usage_keys(ctx) + (limits.account_usage_keys(account_id, "OUT", at) if account_id else [])
    defs = limits.Definitions(store.definitions(limits.definition_keys(ctx)))
    used = store.usage(keys)
    try:
        caps = defs.customer_caps(ctx)
    except ApiError:
        caps = ()
    left = limits.remaining(caps, lambda period: limits.customer_usage_key(ctx, period), used)
    out = RemainingOut(txn_type=txn_type, channel=channel, auth_level=caller.auth_level,
                       single=_fen(left.get("single", {}).get("amount")), today=_period(left.get("daily")),
                       month=_period(left.get("monthly")), year=_period(left.get("yearly")), account_id=account_id)
    bounds = [v for period in ("single", "daily", "monthly", "yearly")
              if (v := left.get(period, {}).get("amount")) is not None]
    if left.get("daily", {}).get("count") == 0:
        bounds.append(0)
    if account_id and account_type:
        account_left = limits.remaining(
            defs.outflow_caps(account_type),
            lambda period: limits.account_usage_key(account_id, "OUT", period, at), used)
        out.account_today = _fen(account_left.get("daily", {}).get("amount"))
        out.account_year = _fen(account_left.get("yearly", {}).get("amount"))
        bounds += [v for period in ("daily", "yearly") if (v := account_left.get(period, {}).get("amount")) is not None]
    out.can_send_now = _fen(min(bounds)) if bounds else None
    return out


def _fen(value: int | None) -> str | None:
    return None if value is None else format_fen(value)


def _period(left: dict[str, int] | None) -> PeriodLeft:
    left = left or {}
    return PeriodLeft(amount=_fen(left.get("amount")), count=left.get("count"))


# --- operations staff ----------------------------------------------------------------------------------

def definition_pk(definition_id: str) -> str:
    return definition_id.replace(".", "#")


def fields_of(pk: str) -> tuple[str, ...]:
    return limits.ACCOUNT_TYPE_FIELDS if pk.startswith("ACCTYPE#") else CUSTOMER_FIELDS


def definition_out(item: LimitDefinition) -> DefinitionOut:
    return DefinitionOut(definition_id=item.pk.replace("#", "."), revision=int(item.revision),
                         values=shown(values_of(item, fields_of(item.pk))), updated_by=item.updated_by,
                         updated_at=item.updated_at)


def list_definitions() -> DefinitionList:
    return DefinitionList(items=[definition_out(d) for d in sorted(store.bank_definitions(), key=lambda d: d.pk)])


def update_definition(staff: Principal, definition_id: str, body: DefinitionIn) -> DefinitionOut:
    """Change a bank default or an account type's caps (never above PBOC's), with who, when, why and the
    values before and after kept in the definition's audit trail."""
    pk = definition_pk(definition_id)
    fields = fields_of(pk)
    new = {f: int(v) for f in fields if (v := getattr(body, f)) is not None}
    stray = [f for f in type(body).__struct_fields__ if getattr(body, f) is not None and f not in fields
             and f not in ("revision", "reason")]
    if stray:
        raise BusinessRuleViolation("These values do not belong to this kind of definition.",
                                    code="LIMIT_FIELDS_NOT_APPLICABLE", details={"fields": stray})
    if pk.startswith("ACCTYPE#"):
        # PBOC's caps are a ceiling: each may be lowered, none raised, and none removed (no cap is above it).
        ceiling = defaults.PBOC_CAPS[pk.split("#", 1)[1]]
        over = {f: v for f, v in new.items() if f not in ceiling or v > ceiling[f]}
        missing = sorted(set(ceiling) - set(new))
        if over or missing:
            raise AbovePbocCap(details={**shown(over), **dict.fromkeys(missing, "required")})
    current = store.definition(pk)
    if current is None and body.revision != 0:
        raise DefinitionNotFound()
    if current is not None and int(current.revision) != body.revision:
        raise DefinitionChanged(details={"revision": int(current.revision)})
    saved = _save(pk, current, new, fields, staff.subject, body.reason, body.revision if current else None)
    obs.log().info("limit definition changed", extra={"definition": definition_id, "staff": staff.subject,
                                                      "revision": int(saved.revision)})
    return definition_out(saved)


def _save(pk: str, current: LimitDefinition | None, new: dict[str, int], fields: tuple[str, ...], by: str,
          reason: str, expected_revision: int | None, grant: stepup.Grant | None = None) -> LimitDefinition:
    at = store.now()
    revision = (int(current.revision) if current else 0) + 1
    item = LimitDefinition(pk, limits.CURRENT, revision=revision, updated_by=by, updated_at=at, reason=reason,
                           **dict[str, Any](new))
    audit = LimitDefinition(pk, f"AUDIT#{at}#{uuid.uuid4().hex[:8]}", revision=revision, updated_by=by,
                            updated_at=at, reason=reason, before=json.dumps(values_of(current, fields)),
                            after=json.dumps(new))
    try:
        store.save_definition(item, expected_revision, audit, step_up=grant)
    except store.RevisionChanged as exc:
        raise DefinitionChanged() from exc
    return item


def audit(definition_id: str) -> AuditTrail:
    pk = definition_pk(definition_id)
    if store.definition(pk) is None:
        raise DefinitionNotFound()
    entries = [AuditEntry(at=str(e.updated_at), by=str(e.updated_by), reason=str(e.reason), revision=int(e.revision),
                          before=shown(json.loads(e.before or "{}")), after=shown(json.loads(e.after or "{}")))
               for e in store.audit_trail(pk)]
    return AuditTrail(definition_id=definition_id, items=entries)
