"""Campaigns: create, edit (a new version each time), move through the state machine, read; every staff
action leaves an audit entry in the same transaction as its change."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from bank_common import config, schedules, schema
from bank_common.errors import BusinessRuleViolation, Conflict, NotFound
from bank_common.money import format_fen
from bank_common.principal import Principal
from marketing_center import store
from marketing_center.logic import segments, states
from marketing_center.models import AuditEntry, Campaign, CampaignVersion
from marketing_center.schemas import (
    AuditEntryOut,
    AuditPage,
    BudgetOut,
    CampaignIn,
    CampaignOut,
    CampaignPage,
    CampaignSummary,
    CampaignVersionOut,
    CouponRulesIn,
    CouponRulesOut,
    OfferOut,
    TransitionIn,
)


class CampaignNotFound(NotFound):
    code, message = "CAMPAIGN_NOT_FOUND", "No such campaign."


class InvalidCampaign(BusinessRuleViolation):
    code, message = "INVALID_CAMPAIGN", "The campaign's definition does not hold together."


# Windows are read in Asia/Shanghai; these bounds keep every instant representable there.
EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def check(body: CampaignIn) -> None:
    """Rules across fields (422 INVALID_CAMPAIGN naming the field): the schema checks each field alone."""
    problems = []
    if not (EARLIEST <= body.starts_at < LATEST and EARLIEST <= body.ends_at < LATEST):
        problems.append(("starts_at", "The window must lie between 2000 and 2100."))
    elif body.ends_at <= body.starts_at:
        problems.append(("ends_at", "The window must end after it starts."))
    if len(set(body.channels)) != len(body.channels):
        problems.append(("channels", "Name each channel once."))
    if body.kind == "points" and body.offer.points is None:
        problems.append(("offer", "A points campaign needs offer.points."))
    if body.kind != "points" and body.offer.amount is None:
        problems.append(("offer", f"A {body.kind} campaign needs offer.amount."))
    if body.coupon_rules is not None and body.kind != "coupon":
        problems.append(("coupon_rules", "Only a coupon campaign has coupon rules."))
    if body.segment is not None:
        try:
            segments.validate(body.segment)
        except segments.InvalidSegment as exc:
            problems.append(("segment", exc.message))
    problems += _trigger_problems(body)
    if len({(b.action, b.period, b.entity) for b in body.budgets}) != len(body.budgets):
        problems.append(("budgets", "One budget per action, period and entity."))
    if problems:
        raise InvalidCampaign(problems[0][1], details=[{"field": f, "problem": p} for f, p in problems])


def _trigger_problems(body: CampaignIn) -> list[tuple[str, str]]:
    trigger = body.trigger
    if trigger is None:
        return []
    if (trigger.cron is None) == (trigger.event is None):
        return [("trigger", "A trigger is a cron or a domain event, one of them.")]
    if trigger.cron is not None:
        if trigger.delay_minutes:
            return [("trigger", "delay_minutes applies to event triggers.")]
        try:
            schedules.validate(trigger.cron, "Asia/Shanghai")
        except schedules.UnsupportedSchedule as exc:
            return [("trigger", f"Not a valid schedule: {exc}")]
        if body.product is not None and body.product.private:
            return [("product", "A private product is never broadcast (use an event trigger).")]
    return []


class CampaignNotRunning(Conflict):
    code, message = "CAMPAIGN_NOT_RUNNING", "The campaign is not running."


def running(campaign_id: str, at: int) -> tuple[Campaign, dict[str, Any]]:
    """A campaign that runs at `at`, with its live version's content (404 / 409 CAMPAIGN_NOT_RUNNING)."""
    campaign = _load(campaign_id)
    current = states.effective(campaign.state, int(campaign.starts_at_ms), int(campaign.ends_at_ms), at)
    if current != "running" or campaign.live_version is None:
        raise CampaignNotRunning(details={"state": current})
    live = store.version_of(campaign_id, int(campaign.live_version))
    assert live is not None, "a pinned version is always saved"
    return campaign, dict(live.content)


def live_content(campaign: Campaign, at_ms: int) -> dict[str, Any] | None:
    """The live version's content of a campaign that runs at `at_ms` (None when it does not run then)."""
    if campaign.live_version is None or states.effective(
            campaign.state, int(campaign.starts_at_ms), int(campaign.ends_at_ms), at_ms) != "running":
        return None
    live = store.version_of(campaign.campaign_id, int(campaign.live_version))
    return dict(live.content) if live is not None else None


class ConcurrentCampaignChange(Conflict):
    code, message = "CONCURRENT_UPDATE", "Someone else changed the campaign at the same time; read it and retry."


def now_ms() -> int:
    return int(time.time() * 1000)


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def shanghai(at_ms: int) -> str:
    """An instant as Asia/Shanghai local time with its offset (how staff read campaign windows)."""
    return datetime.fromtimestamp(at_ms / 1000, UTC).astimezone(config.SHANGHAI).isoformat(timespec="seconds")


def content_of(body: CampaignIn) -> dict[str, Any]:
    """A version's stored content: the definition as sent, instants in epoch ms, money in fen."""
    data: dict[str, Any] = schema.to_builtins(body)
    data["starts_at_ms"], data["ends_at_ms"] = ms(body.starts_at), ms(body.ends_at)
    del data["starts_at"], data["ends_at"]
    return data


def create(caller: Principal, body: CampaignIn) -> CampaignOut:
    check(body)
    at = now_ms()
    campaign_id = "cmp-" + uuid.uuid4().hex[:20]
    content = content_of(body)
    campaign = Campaign(store.campaign_pk(campaign_id), "META", campaign_id=campaign_id, name=body.name,
                        kind=body.kind, state="draft", revision=1, version=1, live_version=None,
                        starts_at_ms=content["starts_at_ms"], ends_at_ms=content["ends_at_ms"],
                        created_by=caller.subject, created_at_ms=at, updated_at_ms=at)
    version = CampaignVersion(campaign.pk, store.version_sk(1), version=1, content=content,
                              created_by=caller.subject, created_at_ms=at)
    store.create(campaign, version, store.audit_entry(campaign_id, caller.subject, "create", at,
                                                      to_state="draft", version=1))
    return campaign_out(campaign, version, None, at)


def _load(campaign_id: str) -> Campaign:
    campaign = store.get(campaign_id)
    if campaign is None:
        raise CampaignNotFound()
    return campaign


def edit(caller: Principal, campaign_id: str, body: CampaignIn) -> CampaignOut:
    """A new version; the live one (if any) stays what runs."""
    campaign = _load(campaign_id)
    check(body)
    at = now_ms()
    current = states.effective(campaign.state, int(campaign.starts_at_ms), int(campaign.ends_at_ms), at)
    states.editable(current)
    number = int(campaign.version) + 1
    content = content_of(body)
    version = CampaignVersion(campaign.pk, store.version_sk(number), version=number, content=content,
                              created_by=caller.subject, created_at_ms=at)
    changes: dict[str, Any] = {"version": {"N": str(number)}, "updated_at_ms": {"N": str(at)}}
    if campaign.live_version is None:  # nothing pinned yet: what the listing shows is the latest version
        changes.update(starts_at_ms={"N": str(content["starts_at_ms"])}, ends_at_ms={"N": str(content["ends_at_ms"])},
                       kind={"S": body.kind}, name={"S": body.name})
    audit = store.audit_entry(campaign_id, caller.subject, "edit", at, from_state=current, to_state=current,
                              version=number)
    try:
        store.save_change(campaign, changes, audit, version)
    except store.ConcurrentChange as exc:
        raise ConcurrentCampaignChange() from exc
    return get(campaign_id)


def transition(caller: Principal, campaign_id: str, body: TransitionIn) -> CampaignOut:
    from marketing_center.logic import triggers  # it reads campaigns too

    campaign = _load(campaign_id)
    at = now_ms()
    current = states.effective(campaign.state, int(campaign.starts_at_ms), int(campaign.ends_at_ms), at)
    target = states.next_state(current, body.action)
    changes: dict[str, Any] = {"state": {"S": target}, "updated_at_ms": {"N": str(at)}}
    pinned = None if campaign.live_version is None else int(campaign.live_version)
    if body.action == "schedule":
        latest = store.version_of(campaign_id, int(campaign.version))
        assert latest is not None, "a campaign's latest version is always saved with it"
        if int(latest.content["ends_at_ms"]) <= at:
            raise states.IllegalTransition("The campaign's window has already closed: edit it first.",
                                           details={"state": current, "action": body.action})
        pinned = int(campaign.version)
        changes.update(live_version={"N": str(pinned)}, starts_at_ms={"N": str(latest.content["starts_at_ms"])},
                       ends_at_ms={"N": str(latest.content["ends_at_ms"])}, kind={"S": latest.content["kind"]},
                       name={"S": latest.content["name"]})
    audit = store.audit_entry(campaign_id, caller.subject, body.action, at, from_state=current, to_state=target,
                              version=pinned, reason=body.reason)
    pinned_content = _content(campaign_id, pinned)
    if body.action in ("schedule", "resume"):
        triggers.before_running(campaign_id, pinned_content, at)
    try:
        store.save_change(campaign, changes, audit)
    except store.ConcurrentChange as exc:
        raise ConcurrentCampaignChange() from exc
    if body.action in ("pause", "end"):
        triggers.after_stopping(campaign_id, pinned_content)
    return get(campaign_id)


def _content(campaign_id: str, version: int | None) -> dict[str, Any]:
    found = None if version is None else store.version_of(campaign_id, version)
    return dict(found.content) if found is not None else {}


def get(campaign_id: str) -> CampaignOut:
    campaign = _load(campaign_id)
    latest = store.version_of(campaign_id, int(campaign.version))
    assert latest is not None
    live = None
    if campaign.live_version is not None:
        live = latest if int(campaign.live_version) == int(campaign.version) else \
            store.version_of(campaign_id, int(campaign.live_version))
    return campaign_out(campaign, latest, live, now_ms())


def campaign_out(campaign: Campaign, latest: CampaignVersion, live: CampaignVersion | None, at: int) -> CampaignOut:
    return CampaignOut(
        campaign_id=campaign.campaign_id, stored_state=campaign.state,  # type: ignore[arg-type]
        state=states.effective(campaign.state, int(campaign.starts_at_ms), int(campaign.ends_at_ms), at),  # type: ignore[arg-type]
        version=int(campaign.version), revision=int(campaign.revision),
        live_version=None if campaign.live_version is None else int(campaign.live_version),
        created_by=campaign.created_by, created_at=shanghai(int(campaign.created_at_ms)),
        updated_at=shanghai(int(campaign.updated_at_ms)), latest=version_out(latest),
        live=version_out(live) if live is not None else None)


def version_out(version: CampaignVersion) -> CampaignVersionOut:
    c = version.content
    offer = c["offer"]
    return CampaignVersionOut(
        version=int(version.version), name=c["name"], kind=c["kind"], starts_at=shanghai(c["starts_at_ms"]),
        ends_at=shanghai(c["ends_at_ms"]), channels=list(c["channels"]),
        offer=OfferOut(amount=_money(offer.get("amount")), points=offer.get("points"),
                       min_spend=_money(offer.get("min_spend"))),
        budgets=[BudgetOut(**b) for b in c.get("budgets") or []], holdout_percent=int(c.get("holdout_percent", 0)),
        description=c.get("description", ""), created_by=version.created_by,
        coupon_rules=CouponRulesOut(**coupon_rules(c)) if c["kind"] == "coupon" else None, segment=c.get("segment"),
        created_at=shanghai(int(version.created_at_ms)))


def coupon_rules(content: dict[str, Any]) -> dict[str, Any]:
    """A coupon campaign version's rules, defaults filled in."""
    rules: dict[str, Any] = schema.to_builtins(CouponRulesIn(**(content.get("coupon_rules") or {})))
    return rules


def _money(fen: int | None) -> str | None:
    return None if fen is None else format_fen(int(fen))


def listing(limit: int, cursor: str | None) -> CampaignPage:
    after = None
    if cursor:
        created, _, campaign_id = cursor.partition("~")
        after = (int(created), campaign_id)
    items, nxt = store.page(limit, after)
    at = now_ms()
    return CampaignPage(items=[CampaignSummary(
        campaign_id=c.campaign_id, name=c.name, kind=c.kind, version=int(c.version),
        state=states.effective(c.state, int(c.starts_at_ms), int(c.ends_at_ms), at),  # type: ignore[arg-type]
        live_version=None if c.live_version is None else int(c.live_version),
        starts_at=shanghai(int(c.starts_at_ms)), ends_at=shanghai(int(c.ends_at_ms)),
        created_at=shanghai(int(c.created_at_ms))) for c in items],
        next_cursor=f"{nxt[0]:013d}~{nxt[1]}" if nxt else None)


def audit(campaign_id: str, limit: int, cursor: str | None) -> AuditPage:
    _load(campaign_id)
    items, nxt = store.audit_page(campaign_id, limit, cursor)
    return AuditPage(campaign_id=campaign_id, items=[_audit_out(e) for e in items], next_cursor=nxt)


def _audit_out(entry: AuditEntry) -> AuditEntryOut:
    return AuditEntryOut(at=shanghai(int(entry.at_ms)), actor=entry.actor, action=entry.action,
                         from_state=entry.from_state, to_state=entry.to_state,
                         version=None if entry.version is None else int(entry.version), reason=entry.reason or "")
