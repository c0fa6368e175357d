"""Coupons: give one to a customer (per-customer limit), list a customer's, validate codes for a payment
(every reason, no side effect), prepare a redemption for a money transaction to carry, redeem on their own,
roll back a redemption (a refund)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bank_common import ddb, marketing_effects
from bank_common.errors import BusinessRuleViolation, Conflict, NotFound
from bank_common.marketing_effects import CouponUse, Redemption
from bank_common.money import format_fen
from marketing_center import store
from marketing_center.logic import codes as code_rules
from marketing_center.logic import states
from marketing_center.logic.budgets import budgets_of
from marketing_center.logic.campaigns import coupon_rules, now_ms, running, shanghai
from marketing_center.models import Campaign, Coupon
from marketing_center.schemas import (
    CouponCheck,
    CouponOut,
    CouponPage,
    CouponValidationOut,
    PrepareRedemptionIn,
    RedeemCouponsIn,
    RollbackCouponIn,
    ValidateCouponsIn,
)

DAY_MS = 86_400_000


class NotACouponCampaign(Conflict):
    code, message = "NOT_A_COUPON_CAMPAIGN", "This campaign gives no coupons."


class CouponLimitReached(BusinessRuleViolation):
    code, message = "COUPON_LIMIT_REACHED", "The customer has as many of this campaign's coupons as it gives."


class CouponsNotApplicable(BusinessRuleViolation):
    code, message = "COUPONS_NOT_APPLICABLE", "The coupons cannot be used for this payment."


class CouponNotFound(NotFound):
    code, message = "COUPON_NOT_FOUND", "No such coupon."


class CouponNotRedeemedByPayment(Conflict):
    code, message = "COUPON_NOT_REDEEMED_BY_PAYMENT", "The coupon was not redeemed by this payment."


def _running_coupon_campaign(campaign_id: str, at: int) -> tuple[Campaign, dict[str, Any]]:
    campaign = store.get(campaign_id)
    if campaign is not None and campaign.kind != "coupon":
        raise NotACouponCampaign()
    return running(campaign_id, at)


def assign(campaign_id: str, customer_id: str) -> CouponOut:
    at = now_ms()
    campaign, content = _running_coupon_campaign(campaign_id, at)
    rules = coupon_rules(content)
    offer = content["offer"]
    for _ in range(5):  # 50 random bits: a collision is rare; another draw settles it
        code = code_rules.generate()
        coupon = Coupon(marketing_effects.COUPON_PREFIX + code, code=code, campaign_id=campaign_id,
                        customer_id=customer_id, status="assigned", face_value=int(offer["amount"]),
                        min_spend=int(offer.get("min_spend") or 0), stackable=bool(rules["stackable"]),
                        channels=json.dumps(content["channels"]), per_device=int(rules["per_device"]),
                        expires_at_ms=min(at + int(rules["valid_days"]) * DAY_MS, int(campaign.ends_at_ms)),
                        assigned_at_ms=at)
        try:
            store.give_coupon(coupon, int(rules["per_customer"]))
        except store.CouponLimitReached as exc:
            raise CouponLimitReached(details={"per_customer": rules["per_customer"]}) from exc
        except store.CodeTaken:
            continue
        return coupon_out(coupon, at)
    raise AssertionError("five coupon codes in a row were taken")


def status_of(coupon: Coupon, at: int) -> str:
    if coupon.status == "assigned" and int(coupon.expires_at_ms) <= at:
        return "expired"
    return coupon.status


def coupon_out(coupon: Coupon, at: int) -> CouponOut:
    return CouponOut(code=code_rules.display(coupon.code), campaign_id=coupon.campaign_id,
                     status=status_of(coupon, at),  # type: ignore[arg-type]
                     face_value=format_fen(int(coupon.face_value)), min_spend=format_fen(int(coupon.min_spend)),
                     stackable=bool(coupon.stackable), channels=json.loads(coupon.channels),
                     expires_at=shanghai(int(coupon.expires_at_ms)), assigned_at=shanghai(int(coupon.assigned_at_ms)))


def mine(customer_id: str, limit: int, cursor: str | None) -> CouponPage:
    after = None
    if cursor:
        assigned, _, code = cursor.partition("~")
        after = (int(assigned), code)
    items, nxt = store.customer_coupons(customer_id, limit, after)
    at = now_ms()
    return CouponPage(items=[coupon_out(c, at) for c in items],
                      next_cursor=f"{nxt[0]:013d}~{nxt[1]}" if nxt else None)


def _checks(customer_id: str, device_id: str, channel: str, typed: list[str], amount: int, at: int
            ) -> tuple[list[tuple[str, list[str], Coupon | None]], dict[str, dict[str, Any]]]:
    """Every rule for every code, reading only: (code, reasons, coupon) per code, and the live content of each
    campaign involved."""
    normalised = [code_rules.normalise(t) for t in typed]
    found = store.coupons([c for c in normalised if code_rules.valid(c)])
    campaigns: dict[str, Campaign | None] = {}
    contents: dict[str, dict[str, Any]] = {}
    for c in found.values():
        if c.campaign_id not in campaigns:
            campaigns[c.campaign_id] = store.get(c.campaign_id)
    device_counts = store.counts([f"{marketing_effects.DEVICE_PREFIX}{c.campaign_id}#{device_id or '-'}"
                                  for c in found.values()])
    results: list[tuple[str, list[str], Coupon | None]] = []
    seen_codes: set[str] = set()
    seen_campaigns: set[str] = set()
    for code in normalised:
        reasons: list[str] = []
        coupon: Coupon | None = found.get(code) if code_rules.valid(code) else None
        if not code_rules.valid(code):
            reasons.append("INVALID_CODE")
        elif coupon is None or coupon.customer_id != customer_id:  # another's coupon is as good as none
            reasons.append("NOT_FOUND")
            coupon = None
        if code in seen_codes:
            reasons.append("DUPLICATE")
        seen_codes.add(code)
        if coupon is not None:
            campaign = campaigns.get(coupon.campaign_id)
            running = campaign is not None and campaign.live_version is not None and states.effective(
                campaign.state, int(campaign.starts_at_ms), int(campaign.ends_at_ms), at) == "running"
            if coupon.status == "redeemed":
                reasons.append("ALREADY_REDEEMED")
            elif int(coupon.expires_at_ms) <= at:
                reasons.append("EXPIRED")
            if not running:
                reasons.append("CAMPAIGN_NOT_RUNNING")
            elif campaign is not None and coupon.campaign_id not in contents:
                live = store.version_of(coupon.campaign_id, int(campaign.live_version or 0))
                assert live is not None
                contents[coupon.campaign_id] = live.content
            if channel not in json.loads(coupon.channels):
                reasons.append("CHANNEL_NOT_ALLOWED")
            if amount < int(coupon.min_spend):
                reasons.append("BELOW_MIN_SPEND")
            if coupon.campaign_id in seen_campaigns:
                reasons.append("SAME_CAMPAIGN")
            seen_campaigns.add(coupon.campaign_id)
            device_key = f"{marketing_effects.DEVICE_PREFIX}{coupon.campaign_id}#{device_id or '-'}"
            if device_counts.get(device_key, 0) >= int(coupon.per_device):
                reasons.append("DEVICE_LIMIT")
        results.append((code, reasons, coupon))
    usable = [c for _, r, c in results if c is not None and not r]
    if len(results) > 1:
        for _, reasons, coupon in results:
            if coupon is not None and not coupon.stackable:
                reasons.append("NOT_STACKABLE")
    if sum(int(c.face_value) for c in usable) >= amount:  # a coupon lowers a payment, never pays all of it
        for _, reasons, coupon in results:
            if coupon is not None and not reasons:
                reasons.append("DISCOUNT_EXCEEDS_AMOUNT")
    return results, contents


def validate(customer_id: str, device_id: str, channel: str, body: ValidateCouponsIn) -> CouponValidationOut:
    results, _ = _checks(customer_id, device_id, channel, body.codes, int(body.amount), now_ms())
    valid = all(not reasons for _, reasons, _ in results)
    discount = sum(int(c.face_value) for _, r, c in results if c is not None and not r) if valid else 0
    return CouponValidationOut(
        valid=valid, discount=format_fen(discount), pays=format_fen(int(body.amount) - discount),
        coupons=[CouponCheck(code=code_rules.display(code), valid=not reasons, reasons=reasons,  # type: ignore[arg-type]
                             face_value=format_fen(int(c.face_value)) if c is not None else None)
                 for code, reasons, c in results])


def prepare(body: PrepareRedemptionIn | RedeemCouponsIn, at: int | None = None) -> Redemption:
    """The redemption a payment carries in its transaction (422 COUPONS_NOT_APPLICABLE with every reason)."""
    at = now_ms() if at is None else at
    results, contents = _checks(body.customer_id, body.device_id, body.channel, body.codes, body.amount, at)
    refused = {code_rules.display(code): reasons for code, reasons, _ in results if reasons}
    if refused:
        raise CouponsNotApplicable(details=refused)
    moment = datetime.fromtimestamp(at / 1000, UTC)
    uses = []
    for _, _, maybe in results:
        assert maybe is not None
        coupon = maybe
        counters = marketing_effects.counters(coupon.campaign_id, budgets_of(contents[coupon.campaign_id]), "redeem",
                                              moment, body.customer_id, body.device_id)
        uses.append(CouponUse(coupon.code, coupon.campaign_id, int(coupon.face_value), tuple(counters),
                              f"{marketing_effects.DEVICE_PREFIX}{coupon.campaign_id}#{body.device_id or '-'}",
                              int(coupon.per_device)))
    return Redemption(body.customer_id, body.device_id, tuple(uses))


def prepare_plan(body: PrepareRedemptionIn) -> dict[str, Any]:
    return prepare(body).to_plan()


def redeem(body: RedeemCouponsIn) -> dict[str, Any]:
    """Redeem on their own (a flow with no money of its own); a payment carries the items instead."""
    at = now_ms()
    redemption = prepare(body, at)
    try:
        ddb.transact_write(marketing_effects.redemption_items(redemption, body.payment_id, at))
    except ddb.TransactionCancelled as exc:
        marketing_effects.explain_redemption(redemption, exc.reasons)
        raise
    return {**redemption.to_plan(), "payment_id": body.payment_id}


def rollback(body: RollbackCouponIn) -> dict[str, Any]:
    """A refunded payment gives its coupon back (unless it has expired meanwhile: then it stays unusable)."""
    code = code_rules.normalise(body.code)
    found = store.coupon_item(code)
    if found is None:
        raise CouponNotFound()
    status = found["status"]["S"]
    if status == "assigned" and found.get("rolled_back_payment", {}).get("S") == body.payment_id:
        return {"code": code_rules.display(code), "status": "assigned"}  # a retry of a rollback that went through
    if status != "redeemed" or found["payment_id"]["S"] != body.payment_id:
        raise CouponNotRedeemedByPayment()
    try:
        ddb.transact_write(marketing_effects.rollback_items(found, body.payment_id, now_ms()))
    except ddb.TransactionCancelled as exc:
        raise CouponNotRedeemedByPayment() from exc
    return {"code": code_rules.display(code), "status": "assigned"}
