"""Routes of the marketing center: parse → call logic → shape the response. Nothing else lives here.

Staff routes (`/v1/ops/marketing/...`) need the `marketing` role; other centers reach budgets through the
internal function (`internal`)."""

from __future__ import annotations

from bank_common import schema
from bank_common.client import internal_handler
from bank_common.http import Blueprint, Link, Request, route
from marketing_center.logic import audience, budgets, campaigns, coupons, figures, points
from marketing_center.schemas import (
    AssignCouponIn,
    AssignCouponInternalIn,
    AuditCursor,
    AuditPage,
    CampaignCursor,
    CampaignFiguresOut,
    CampaignId,
    CampaignIn,
    CampaignOut,
    CampaignPage,
    CampaignPreviewOut,
    CouponCursor,
    CouponOut,
    CouponPage,
    CouponValidationOut,
    DryRunIn,
    DryRunOut,
    EarnPointsIn,
    PageSize,
    PointsCursor,
    PointsHistoryPage,
    PointsOut,
    PrepareEarnIn,
    PrepareRedemptionIn,
    RedeemCouponsIn,
    ReservationIn,
    ReserveBudgetIn,
    ReversePointsIn,
    RollbackCouponIn,
    SpendPointsIn,
    TransitionIn,
    ValidateCouponsIn,
)

bp = Blueprint(__name__)
CENTER = "marketing"
STAFF = ("marketing",)
CAMPAIGN = "/v1/ops/marketing/campaigns/{campaign_id}"


def campaign_links(campaign_id: str) -> dict[str, Link]:
    return {
        "GetCampaign": Link.to("get_campaign", "The campaign, its latest and live versions.",
                               parameters={"campaign_id": campaign_id}),
        "EditCampaign": Link.to("edit_campaign", "Save a new version of the campaign.",
                                parameters={"campaign_id": campaign_id}),
        "TransitionCampaign": Link.to("transition_campaign", "Schedule, pause, resume or end the campaign.",
                                      parameters={"campaign_id": campaign_id}),
        "ListCampaignAudit": Link.to("list_campaign_audit", "Every staff action on the campaign.",
                                     parameters={"campaign_id": campaign_id}),
        "DryRunCampaign": Link.to("dry_run_campaign", "One customer against the campaign.",
                                  parameters={"campaign_id": campaign_id}),
        "AssignCoupon": Link.to("assign_coupon", "Give a customer one of the campaign's coupons.",
                                parameters={"campaign_id": campaign_id}),
        "GetCampaignFigures": Link.to("get_campaign_figures", "The campaign's live figures.",
                                      parameters={"campaign_id": campaign_id}),
        "PreviewCampaign": Link.to("preview_campaign", "Segment size and budget burn before it runs.",
                                   parameters={"campaign_id": campaign_id}),
    }


@route(bp, "POST", "/v1/ops/marketing/campaigns", operation="create_campaign",
       summary="Create a campaign (a draft, version 1)", center=CENTER, request_model=CampaignIn,
       response_model=CampaignOut, status=201, roles=STAFF, errors=(422,),
       links=campaign_links("$response.body#/campaign_id"))
def create_campaign(req: Request) -> CampaignOut:
    return campaigns.create(req.caller, req.body)


@route(bp, "GET", "/v1/ops/marketing/campaigns", operation="list_campaigns", summary="Campaigns, newest first",
       center=CENTER, response_model=CampaignPage, roles=STAFF, query={"limit": PageSize, "cursor": CampaignCursor},
       links={**campaign_links("$response.body#/items/0/campaign_id"),
              "NextPage": Link.to("list_campaigns", "The next page (when next_cursor is not null).",
                                  parameters={"cursor": "$response.body#/next_cursor"})})
def list_campaigns(req: Request) -> CampaignPage:
    return campaigns.listing(req.query.get("limit", 20), req.query.get("cursor"))


@route(bp, "GET", CAMPAIGN, operation="get_campaign", summary="A campaign with its latest and live versions",
       center=CENTER, response_model=CampaignOut, roles=STAFF, errors=(404,), path_params={"campaign_id": CampaignId},
       links=campaign_links("$response.body#/campaign_id"))
def get_campaign(req: Request) -> CampaignOut:
    return campaigns.get(req.path_params["campaign_id"])


@route(bp, "PUT", CAMPAIGN, operation="edit_campaign",
       summary="Save a new version (a running campaign keeps the version it started with)", center=CENTER,
       request_model=CampaignIn, response_model=CampaignOut, roles=STAFF, errors=(404, 409, 422),
       path_params={"campaign_id": CampaignId}, links=campaign_links("$response.body#/campaign_id"))
def edit_campaign(req: Request) -> CampaignOut:
    return campaigns.edit(req.caller, req.path_params["campaign_id"], req.body)


@route(bp, "POST", CAMPAIGN + "/transitions", operation="transition_campaign",
       summary="Schedule, pause, resume or end a campaign (illegal moves: 409 ILLEGAL_TRANSITION)", center=CENTER,
       request_model=TransitionIn, response_model=CampaignOut, roles=STAFF, errors=(404, 409),
       path_params={"campaign_id": CampaignId}, links=campaign_links("$response.body#/campaign_id"))
def transition_campaign(req: Request) -> CampaignOut:
    return campaigns.transition(req.caller, req.path_params["campaign_id"], req.body)


@route(bp, "GET", CAMPAIGN + "/audit", operation="list_campaign_audit",
       summary="The audit trail of a campaign: every staff action, newest first", center=CENTER,
       response_model=AuditPage, roles=STAFF, errors=(404,), path_params={"campaign_id": CampaignId},
       query={"limit": PageSize, "cursor": AuditCursor},
       links={"NextPage": Link.to("list_campaign_audit", "The next page (when next_cursor is not null).",
                                  parameters={"campaign_id": "$response.body#/campaign_id",
                                              "cursor": "$response.body#/next_cursor"})})
def list_campaign_audit(req: Request) -> AuditPage:
    return campaigns.audit(req.path_params["campaign_id"], req.query.get("limit", 20), req.query.get("cursor"))


@route(bp, "POST", CAMPAIGN + "/dry-run", operation="dry_run_campaign",
       summary="One customer against the campaign: in its segment or not, each rule's reason, the holdout "
               "(changes nothing)", center=CENTER, request_model=DryRunIn, response_model=DryRunOut, roles=STAFF,
       errors=(404,), path_params={"campaign_id": CampaignId},
       links={"GetCampaign": Link.to("get_campaign", "The campaign.",
                                     parameters={"campaign_id": "$response.body#/campaign_id"})})
def dry_run_campaign(req: Request) -> DryRunOut:
    return audience.dry_run(req.path_params["campaign_id"], req.body.customer_id)


@route(bp, "GET", CAMPAIGN + "/figures", operation="get_campaign_figures",
       summary="A campaign's live figures: firings, reached, every outcome, budgets used, redeemed, points issued, "
               "uplift against the holdout", center=CENTER, response_model=CampaignFiguresOut, roles=STAFF,
       errors=(404,), path_params={"campaign_id": CampaignId},
       links={"GetCampaign": Link.to("get_campaign", "The campaign.",
                                     parameters={"campaign_id": "$response.body#/campaign_id"})})
def get_campaign_figures(req: Request) -> CampaignFiguresOut:
    return figures.live(req.path_params["campaign_id"])


@route(bp, "GET", CAMPAIGN + "/preview", operation="preview_campaign",
       summary="Before it runs: the latest version's segment size among known customers, the holdout, who the "
               "contact policy lets through, and what each budget would burn", center=CENTER,
       response_model=CampaignPreviewOut, roles=STAFF, errors=(404,), path_params={"campaign_id": CampaignId},
       links={"GetCampaign": Link.to("get_campaign", "The campaign.",
                                     parameters={"campaign_id": "$response.body#/campaign_id"})})
def preview_campaign(req: Request) -> CampaignPreviewOut:
    return figures.preview(req.path_params["campaign_id"])


@route(bp, "POST", CAMPAIGN + "/coupons", operation="assign_coupon",
       summary="Give a customer a coupon of a running coupon campaign (within its per-customer limit)",
       center=CENTER, request_model=AssignCouponIn, response_model=CouponOut, status=201, roles=STAFF,
       errors=(404, 409, 422), path_params={"campaign_id": CampaignId},
       links={"GetCampaign": Link.to("get_campaign", "The coupon's campaign.",
                                     parameters={"campaign_id": "$response.body#/campaign_id"})})
def assign_coupon(req: Request) -> CouponOut:
    return coupons.assign(req.path_params["campaign_id"], req.body.customer_id)


@route(bp, "GET", "/v1/marketing/coupons", operation="list_my_coupons", summary="The caller's coupons, newest first",
       center=CENTER, response_model=CouponPage, customer_only=True,
       query={"limit": PageSize, "cursor": CouponCursor},
       links={"NextPage": Link.to("list_my_coupons", "The next page (when next_cursor is not null).",
                                  parameters={"cursor": "$response.body#/next_cursor"}),
              "ValidateCoupon": Link.to("validate_coupons", "Check the newest coupon for a payment.",
                                        body={"codes": "$response.body#/items/0/code"})})
def list_my_coupons(req: Request) -> CouponPage:
    return coupons.mine(req.caller.subject, req.query.get("limit", 20), req.query.get("cursor"))


@route(bp, "POST", "/v1/marketing/coupons/validations", operation="validate_coupons",
       summary="Check coupons for a payment: the discount, or every reason each cannot be used (changes nothing)",
       center=CENTER, request_model=ValidateCouponsIn, response_model=CouponValidationOut, customer_only=True)
def validate_coupons(req: Request) -> CouponValidationOut:
    return coupons.validate(req.caller.subject, req.caller.device_id, req.channel_name, req.body)


@route(bp, "GET", "/v1/marketing/points", operation="get_my_points",
       summary="The caller's points: available, pending (until the next Shanghai midnight) and every lot",
       center=CENTER, response_model=PointsOut, customer_only=True,
       links={"History": Link.to("list_my_points_history", "Every points entry, newest first.")})
def get_my_points(req: Request) -> PointsOut:
    return points.balance(req.caller.subject)


@route(bp, "GET", "/v1/marketing/points/history", operation="list_my_points_history",
       summary="The caller's points entries (earned, spent, reversed), newest first", center=CENTER,
       response_model=PointsHistoryPage, customer_only=True, query={"limit": PageSize, "cursor": PointsCursor},
       links={"NextPage": Link.to("list_my_points_history", "The next page (when next_cursor is not null).",
                                  parameters={"cursor": "$response.body#/next_cursor"})})
def list_my_points_history(req: Request) -> PointsHistoryPage:
    return points.history(req.caller.subject, req.query.get("limit", 20), req.query.get("cursor"))


# --- what other centers invoke (bank_common.client.call("marketing", ...)) ---------------------------------
internal = internal_handler({
    "reserve_budget": lambda payload: budgets.reserve(schema.decode(payload, ReserveBudgetIn)),
    "confirm_budget": lambda payload: budgets.confirm(schema.decode(payload, ReservationIn)),
    "release_budget": lambda payload: budgets.release(schema.decode(payload, ReservationIn)),
    "assign_coupon": lambda payload: schema.to_builtins(coupons.assign(
        *_assignee(schema.decode(payload, AssignCouponInternalIn)))),
    "prepare_redemption": lambda payload: coupons.prepare_plan(schema.decode(payload, PrepareRedemptionIn)),
    "redeem_coupons": lambda payload: coupons.redeem(schema.decode(payload, RedeemCouponsIn)),
    "rollback_coupon": lambda payload: coupons.rollback(schema.decode(payload, RollbackCouponIn)),
    "earn_points": lambda payload: points.earn(schema.decode(payload, EarnPointsIn)),
    "spend_points": lambda payload: points.spend(schema.decode(payload, SpendPointsIn)),
    "reverse_points": lambda payload: points.reverse(schema.decode(payload, ReversePointsIn)),
    "prepare_earn": lambda payload: points.prepare_earn(schema.decode(payload, PrepareEarnIn)),
})


def _assignee(body: AssignCouponInternalIn) -> tuple[str, str]:
    return body.campaign_id, body.customer_id
