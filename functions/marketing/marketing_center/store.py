"""Data access of the marketing center (its five tables; see models.py)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from bank_common import ddb, marketing_effects
from bank_common.ddb import n, s
from marketing_center.models import (
    LISTING,
    AudienceProfile,
    AuditEntry,
    BehaviourCount,
    BudgetCounter,
    BudgetReservation,
    Campaign,
    CampaignVersion,
    Coupon,
    Membership,
    PointsEntry,
    PointsLot,
    SeenEvent,
)


class ConcurrentChange(Exception):
    """Another staff action changed the campaign between our read and our write."""


def campaign_pk(campaign_id: str) -> str:
    return f"CAMP#{campaign_id}"


def version_sk(version: int) -> str:
    return f"V#{version:06d}"


def audit_entry(campaign_id: str, actor: str, action: str, at_ms: int, *, from_state: str | None = None,
                to_state: str | None = None, version: int | None = None, reason: str = "") -> AuditEntry:
    return AuditEntry(campaign_pk(campaign_id), f"AUDIT#{at_ms:013d}#{uuid.uuid4().hex[:8]}", actor=actor,
                      action=action, from_state=from_state, to_state=to_state, version=version, reason=reason,
                      at_ms=at_ms)


def create(campaign: Campaign, version: CampaignVersion, audit: AuditEntry) -> None:
    """The campaign, its first version and the audit entry of its creation, together."""
    ddb.transact_write([ddb.put_new(campaign), ddb.put_new(version), ddb.put_new(audit)])


def _revision_update(campaign: Campaign, changes: dict[str, Any]) -> dict[str, Any]:
    """Update the campaign's META item if its revision is still the one read, and raise the revision."""
    names = {f"#f{i}": name for i, name in enumerate(changes)}
    values = {f":v{i}": value for i, value in enumerate(changes.values())}
    sets = ", ".join(f"#f{i} = :v{i}" for i in range(len(changes)))
    return {"Update": {
        "TableName": ddb.table_name(Campaign),
        "Key": {"pk": s(campaign.pk), "sk": s("META")},
        "UpdateExpression": f"SET {sets}, revision = revision + :one",
        "ConditionExpression": "revision = :read",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {**values, ":one": n(1), ":read": n(int(campaign.revision))},
    }}


def save_change(campaign: Campaign, changes: dict[str, Any], audit: AuditEntry,
                version: CampaignVersion | None = None) -> None:
    """A staff action: the campaign's changes (wire values), a new version if any, its audit entry — at once,
    and only if nobody else changed the campaign since it was read."""
    items = [_revision_update(campaign, changes), ddb.put_new(audit)]
    if version is not None:
        items.append(ddb.put_new(version))
    try:
        ddb.transact_write(items)
    except ddb.TransactionCancelled as exc:
        raise ConcurrentChange() from exc


def get(campaign_id: str) -> Campaign | None:
    try:
        return Campaign.get(campaign_pk(campaign_id), "META", consistent_read=True)
    except Campaign.DoesNotExist:
        return None


def version_of(campaign_id: str, version: int) -> CampaignVersion | None:
    try:
        return CampaignVersion.get(campaign_pk(campaign_id), version_sk(version), consistent_read=True)
    except CampaignVersion.DoesNotExist:
        return None


def page(limit: int, after: tuple[int, str] | None) -> tuple[list[Campaign], tuple[int, str] | None]:
    """Campaigns newest first; `after`: (created_at_ms, campaign_id) of the last one of the previous page."""
    start = None
    if after is not None:
        start = {"pk": {"S": campaign_pk(after[1])}, "sk": {"S": "META"}, "listing": {"S": LISTING},
                 "created_at_ms": {"N": str(after[0])}}
    results = Campaign.by_created.query(LISTING, scan_index_forward=False, limit=limit,
                                        last_evaluated_key=start)
    items = list(results)
    last = results.last_evaluated_key
    nxt = (int(last["created_at_ms"]["N"]), last["pk"]["S"].removeprefix("CAMP#")) if last else None
    return items, nxt


def audit_page(campaign_id: str, limit: int, after: str | None) -> tuple[list[AuditEntry], str | None]:
    """The campaign's audit trail, newest first; `after`: the sk suffix of the previous page's last entry."""
    pk = campaign_pk(campaign_id)
    start = {"pk": {"S": pk}, "sk": {"S": f"AUDIT#{after}"}} if after else None
    results = AuditEntry.query(pk, AuditEntry.sk.startswith("AUDIT#"), scan_index_forward=False, limit=limit,
                               last_evaluated_key=start, consistent_read=True)
    items = list(results)
    last = results.last_evaluated_key
    return items, (last["sk"]["S"].removeprefix("AUDIT#") if last else None)


# --- budgets -------------------------------------------------------------------------------------------------

def campaign_live_check(campaign_id: str, live_version: int) -> dict[str, Any]:
    """A transaction item that holds only while the campaign still runs the version read (a pause, an end or a
    new schedule between the read and the write cancels the reservation)."""
    return {"ConditionCheck": {
        "TableName": ddb.table_name(Campaign),
        "Key": {"pk": s(campaign_pk(campaign_id)), "sk": s("META")},
        "ConditionExpression": "#state IN (:scheduled, :running) AND live_version = :v",
        "ExpressionAttributeNames": {"#state": "state"},
        "ExpressionAttributeValues": {":scheduled": s("scheduled"), ":running": s("running"),
                                      ":v": n(live_version)},
    }}


def reservation(reservation_id: str) -> dict[str, Any] | None:
    """The reservation's item (wire format, as marketing_effects.release_items takes it)."""
    reply = ddb.client().get_item(TableName=marketing_effects.table(), ConsistentRead=True,
                                  Key={"pk": s(marketing_effects.RESERVATION_PREFIX + reservation_id)})
    item: dict[str, Any] | None = reply.get("Item")
    return item


def expired_reservations(now_ms: int, limit: int) -> list[str]:
    """Ids of open reservations whose time ran out, oldest first."""
    found = BudgetReservation.by_expiry.query(marketing_effects.OPEN, BudgetReservation.expires_at_ms <= now_ms,
                                              limit=limit)
    return [item.pk.removeprefix(marketing_effects.RESERVATION_PREFIX) for item in found]


# --- coupons -------------------------------------------------------------------------------------------------

class CodeTaken(Exception):
    """A newly drawn coupon code exists already (draw another)."""


class CouponLimitReached(Exception):
    """The customer has as many coupons of the campaign as it gives."""


def give_coupon(coupon: Coupon, per_customer: int) -> None:
    """The coupon, and the customer's count of the campaign's coupons raised under its limit, together."""
    count = {"Update": {
        "TableName": ddb.table_name(Coupon),
        "Key": {"pk": s(f"ASSIGNED#{coupon.campaign_id}#{coupon.customer_id}")},
        "UpdateExpression": "SET #n = if_not_exists(#n, :zero) + :one",
        "ConditionExpression": "attribute_not_exists(#n) OR #n < :limit",
        "ExpressionAttributeNames": {"#n": "n"},
        "ExpressionAttributeValues": {":zero": n(0), ":one": n(1), ":limit": n(per_customer)},
    }}
    try:
        ddb.transact_write([count, ddb.put_new(coupon)])
    except ddb.TransactionCancelled as exc:
        if exc.reasons and exc.reasons[0].code == "ConditionalCheckFailed":
            raise CouponLimitReached() from exc
        if len(exc.reasons) > 1 and exc.reasons[1].code == "ConditionalCheckFailed":
            raise CodeTaken() from exc
        raise


def coupons(codes: list[str]) -> dict[str, Coupon]:
    """The coupons with these codes that exist, by code (one BatchGetItem)."""
    table = ddb.table_name(Coupon)
    found = ddb.batch_get({table: [{"pk": s(marketing_effects.COUPON_PREFIX + c)} for c in dict.fromkeys(codes)]})
    return {item["code"]["S"]: Coupon.from_raw_data(item) for item in found[table]}


def coupon_item(code: str) -> dict[str, Any] | None:
    """A coupon's item (wire format, as marketing_effects.rollback_items takes it)."""
    reply = ddb.client().get_item(TableName=ddb.table_name(Coupon), ConsistentRead=True,
                                  Key={"pk": s(marketing_effects.COUPON_PREFIX + code)})
    item: dict[str, Any] | None = reply.get("Item")
    return item


def counts(keys: list[str]) -> dict[str, int]:
    """Coupon counts (DEVICE#..., ASSIGNED#...) by key; absent ones are 0."""
    if not keys:
        return {}
    table = ddb.table_name(Coupon)
    found = ddb.batch_get({table: [{"pk": s(k)} for k in dict.fromkeys(keys)]})
    return {item["pk"]["S"]: int(item["n"]["N"]) for item in found[table]}


def customer_coupons(customer_id: str, limit: int, after: tuple[int, str] | None
                     ) -> tuple[list[Coupon], tuple[int, str] | None]:
    """A customer's coupons, newest first; `after`: (assigned_at_ms, code) of the previous page's last."""
    start = None
    if after is not None:
        start = {"pk": {"S": marketing_effects.COUPON_PREFIX + after[1]}, "customer_id": {"S": customer_id},
                 "assigned_at_ms": {"N": str(after[0])}}
    results = Coupon.by_customer.query(customer_id, scan_index_forward=False, limit=limit, last_evaluated_key=start)
    items = list(results)
    last = results.last_evaluated_key
    nxt = (int(last["assigned_at_ms"]["N"]), last["pk"]["S"].removeprefix(marketing_effects.COUPON_PREFIX)) \
        if last else None
    return items, nxt


# --- points ----------------------------------------------------------------------------------------------------

def points_lots(customer_id: str) -> list[PointsLot]:
    """The customer's lots, soonest-expiring first."""
    pk = marketing_effects.customer_key(customer_id)
    return list(PointsLot.query(pk, PointsLot.sk.startswith("LOT#"), consistent_read=True))


def points_entry(customer_id: str, sk: str) -> PointsEntry | None:
    try:
        return PointsEntry.get(marketing_effects.customer_key(customer_id), sk, consistent_read=True)
    except PointsEntry.DoesNotExist:
        return None


def points_history(customer_id: str, limit: int, after: tuple[int, str] | None
                   ) -> tuple[list[PointsEntry], tuple[int, str] | None]:
    pk = marketing_effects.customer_key(customer_id)
    start = {"pk": {"S": pk}, "sk": {"S": after[1]}, "at_ms": {"N": str(after[0])}} if after else None
    results = PointsEntry.by_time.query(pk, scan_index_forward=False, limit=limit, last_evaluated_key=start)
    items = list(results)
    last = results.last_evaluated_key
    return items, ((int(last["at_ms"]["N"]), last["sk"]["S"]) if last else None)


def take_from_lot(customer_id: str, lot_sk: str, take: int, now_ms: int, *, spendable: bool) -> dict[str, Any]:
    """Lower a lot's remainder (never below zero; when `spendable`, only while it is available and unexpired)."""
    condition = "remaining >= :take"
    values = {":take": n(take)}
    if spendable:
        condition += " AND available_at_ms <= :now AND expires_at_ms > :now"
        values[":now"] = n(now_ms)
    return {"Update": {
        "TableName": ddb.table_name(PointsLot),
        "Key": {"pk": s(marketing_effects.customer_key(customer_id)), "sk": s(lot_sk)},
        "UpdateExpression": "SET remaining = remaining - :take",
        "ConditionExpression": condition, "ExpressionAttributeValues": values}}


# --- audience: profiles, behaviour counts, segment memberships ---------------------------------------------------

def record_event(event_id: str, customer_id: str, change: dict[str, Any], expires_at: int) -> bool:
    """Count an event once: its seen-marker and its change (a behaviour count or the profile) together. False
    when the event was counted before (a redelivery)."""
    seen = {"Put": {"TableName": ddb.table_name(SeenEvent),
                    "Item": {"pk": s(f"EVT#{event_id}"), "sk": s("-"), "customer_id": s(customer_id),
                             "expires_at": n(expires_at)},
                    "ConditionExpression": "attribute_not_exists(pk)"}}
    try:
        ddb.transact_write([seen, change])
    except ddb.TransactionCancelled as exc:
        if exc.reasons and exc.reasons[0].code == "ConditionalCheckFailed":
            return False
        raise
    return True


def count_change(customer_id: str, kind: str, day: str, expires_at: int) -> dict[str, Any]:
    return {"Update": {"TableName": ddb.table_name(BehaviourCount),
                       "Key": {"pk": s(marketing_effects.customer_key(customer_id)), "sk": s(f"AGG#{kind}#{day}")},
                       "UpdateExpression": "ADD #n :one SET expires_at = :exp",
                       "ExpressionAttributeNames": {"#n": "n"},
                       "ExpressionAttributeValues": {":one": n(1), ":exp": n(expires_at)}}}


def profile_change(customer_id: str, profile: dict[str, Any], at_ms: int) -> dict[str, Any]:
    return {"Update": {"TableName": ddb.table_name(AudienceProfile),
                       "Key": {"pk": s(marketing_effects.customer_key(customer_id)), "sk": s("PROFILE")},
                       "UpdateExpression": "SET profile = :p, profile_listing = :l, updated_at_ms = :at",
                       "ExpressionAttributeValues": {":p": s(json.dumps(profile, sort_keys=True)), ":l": s("PROFILE"),
                                                     ":at": n(at_ms)}}}


def audience_items(customer_id: str) -> tuple[dict[str, Any], dict[str, dict[str, int]], dict[str, Membership]]:
    """One Query: the customer's profile, behaviour counts (kind → YYYYMMDD → n) and segment verdicts."""
    profile: dict[str, Any] = {}
    counts: dict[str, dict[str, int]] = {}
    members: dict[str, Membership] = {}
    pk = marketing_effects.customer_key(customer_id)
    for item in ddb.client().get_paginator("query").paginate(
            TableName=ddb.table_name(AudienceProfile), KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": s(pk)}, ConsistentRead=True).search("Items"):
        sk = item["sk"]["S"]
        if sk == "PROFILE":
            profile = json.loads(item["profile"]["S"])
        elif sk.startswith("AGG#"):
            _, kind, day = sk.split("#")
            counts.setdefault(kind, {})[day] = int(item["n"]["N"])
        elif sk.startswith("MEMBER#"):
            members[sk.removeprefix("MEMBER#")] = Membership.from_raw_data(item)
    return profile, counts, members


def save_membership(customer_id: str, campaign_id: str, member: bool, version: int, reasons: list[str],
                    at_ms: int) -> None:
    Membership(marketing_effects.customer_key(customer_id), f"MEMBER#{campaign_id}", member=member,
               member_of=campaign_id if member else None, version=version, reasons=reasons,
               evaluated_at_ms=at_ms).save()


def profile_customers(limit: int = 1000) -> list[str]:
    """Customer ids that have a profile copy (for the nightly sweep)."""
    return [p.pk.removeprefix("CUST#") for p in AudienceProfile.by_profile.query("PROFILE", limit=limit)]


def running_candidates() -> list[Campaign]:
    """Every campaign (the caller keeps the running ones): the by_created index, all pages."""
    return list(Campaign.by_created.query(LISTING))


# --- scheduled firings: fire records, the audience snapshot, contacts ------------------------------------------

def start_firing(campaign_id: str, fire_key: str, at_ms: int) -> bool:
    """The fire record (`FIRE#<campaign>` / the firing's key), written before anything else a firing does: False
    when this firing already ran to its end (a second delivery). A firing that died half way is `started` and may
    run again: every contact it makes is recorded once (contact_items), so running it again reaches only whom it
    had not reached. One partition per campaign: its figures read them."""
    try:
        ddb.client().put_item(TableName=ddb.table_name(AudienceProfile), Item={
            "pk": s(f"FIRE#{campaign_id}"), "sk": s(fire_key), "status": s("started"), "at_ms": n(at_ms)},
            ConditionExpression="attribute_not_exists(pk) OR #st = :started",
            ExpressionAttributeNames={"#st": "status"}, ExpressionAttributeValues={":started": s("started")})
    except ddb.client().exceptions.ConditionalCheckFailedException:
        return False
    return True


def finish_firing(campaign_id: str, fire_key: str, outcome: dict[str, Any]) -> None:
    ddb.client().update_item(TableName=ddb.table_name(AudienceProfile),
                             Key={"pk": s(f"FIRE#{campaign_id}"), "sk": s(fire_key)},
                             UpdateExpression="SET #st = :done, outcome = :o",
                             ExpressionAttributeNames={"#st": "status"},
                             ExpressionAttributeValues={":done": s("done"), ":o": s(json.dumps(outcome))})


def firings(campaign_id: str) -> list[dict[str, Any]]:
    """Every finished firing's outcome of a campaign."""
    items = ddb.client().get_paginator("query").paginate(
        TableName=ddb.table_name(AudienceProfile), KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": s(f"FIRE#{campaign_id}")}).search("Items")
    return [json.loads(i["outcome"]["S"]) for i in items if "outcome" in i]


def budget_used(keys: list[str]) -> dict[str, int]:
    """What budget counters have used, by key (absent: 0)."""
    if not keys:
        return {}
    table = ddb.table_name(BudgetCounter)
    found = ddb.batch_get({table: [{"pk": s(k)} for k in dict.fromkeys(keys)]})
    return {item["pk"]["S"]: int(item["used"]["N"]) for item in found[table] if "used" in item}


def members(campaign_id: str) -> list[str]:
    """The segment's members as the incremental evaluation left them (by_member, every page)."""
    return [m.pk.removeprefix("CUST#") for m in Membership.by_member.query(campaign_id)]


def snapshot(campaign_id: str) -> list[str] | None:
    """The audience frozen at the campaign's first firing (None before it is taken)."""
    items = list(ddb.client().get_paginator("query").paginate(
        TableName=ddb.table_name(AudienceProfile), KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": s(f"SNAP#{campaign_id}")}, ConsistentRead=True).search("Items"))
    if not any(i["sk"]["S"] == "META" for i in items):
        return None
    return sorted(i["sk"]["S"].removeprefix("CUST#") for i in items if i["sk"]["S"].startswith("CUST#"))


def take_snapshot(campaign_id: str, customers: list[str], at_ms: int) -> list[str]:
    """Freeze the audience: its members, then the META marker that makes the snapshot whole (a firing that died
    before the marker takes it again; one that finds the marker reads it)."""
    table = ddb.table_name(AudienceProfile)
    for customer_id in customers:
        ddb.client().put_item(TableName=table, Item={"pk": s(f"SNAP#{campaign_id}"), "sk": s(f"CUST#{customer_id}"),
                                                     "at_ms": n(at_ms)})
    try:
        ddb.client().put_item(TableName=table, Item={"pk": s(f"SNAP#{campaign_id}"), "sk": s("META"),
                                                     "size": n(len(customers)), "at_ms": n(at_ms)},
                              ConditionExpression="attribute_not_exists(pk)")
    except ddb.client().exceptions.ConditionalCheckFailedException:
        return snapshot(campaign_id) or []  # another delivery of the first firing took it first
    return sorted(customers)


def profile_of(customer_id: str) -> dict[str, Any]:
    found = ddb.client().get_item(TableName=ddb.table_name(AudienceProfile),
                                  Key={"pk": s(marketing_effects.customer_key(customer_id)), "sk": s("PROFILE")})
    item = found.get("Item")
    return json.loads(item["profile"]["S"]) if item else {}


def contact_items(customer_id: str, caps: list[tuple[str, int]], campaign_id: str, step: str,
                  at_ms: int) -> list[dict[str, Any]]:
    """One push, recorded: each cap's counter raised only while under its cap, and the contact `REACH#<campaign>#
    <step>` put once (a step never pushes twice). Together, or not at all."""
    table, pk = ddb.table_name(AudienceProfile), s(marketing_effects.customer_key(customer_id))
    items: list[dict[str, Any]] = [{"Update": {
        "TableName": table, "Key": {"pk": pk, "sk": s(key)},
        "UpdateExpression": "ADD #n :one", "ConditionExpression": "attribute_not_exists(#n) OR #n < :cap",
        "ExpressionAttributeNames": {"#n": "n"}, "ExpressionAttributeValues": {":one": n(1), ":cap": n(cap)}}}
        for key, cap in caps]
    items.append({"Put": {"TableName": table, "Item": {"pk": pk, "sk": s(f"REACH#{campaign_id}#{step}"),
                                                       "campaign_id": s(campaign_id), "at_ms": n(at_ms)},
                          "ConditionExpression": "attribute_not_exists(pk)"}})
    return items
