"""Routes of the contract & limit center: parse → call the rules → shape the response."""

from __future__ import annotations

from typing import Annotated

from bank_common import stepup
from bank_common.http import Blueprint, Link, Request, route
from bank_common.schema import Meta, anchored
from contract_center import agreements, limit_rules
from contract_center.schemas import (
    AgreementId,
    AgreementList,
    AgreementOut,
    AuditTrail,
    DefinitionId,
    DefinitionIn,
    DefinitionList,
    DefinitionOut,
    LimitsOut,
    LimitView,
    OwnLimitsIn,
    RemainingOut,
    SignIn,
    TemplateCode,
    TemplateIn,
    TemplateOut,
    TxnType,
)

bp = Blueprint(__name__)
CENTER = "contract"
OPS = ("ops",)
AccountNumber = Annotated[str, Meta(min_length=6, max_length=40, pattern=anchored(r"[0-9A-Za-z-]+"))]

SIGN_LINK = {"Sign": Link.to("sign_agreement", "Sign this version (the hash says which text was seen).",
                             body={"template_code": "$response.body#/code", "version": "$response.body#/version",
                                   "content_hash": "$response.body#/content_hash"})}
AGREEMENT_LINKS = {
    "GetAgreement": Link.to("get_agreement", "The signature and its evidence.",
                            parameters={"agreement_id": "$response.body#/agreement_id"}),
    "Revoke": Link.to("revoke_agreement", "Revoke it.", parameters={"agreement_id": "$response.body#/agreement_id"}),
}


@route(bp, "POST", "/v1/ops/agreement-templates", operation="publish_agreement_template",
       summary="Publish a new version of an agreement's text (ops)", center=CENTER, request_model=TemplateIn,
       response_model=TemplateOut, status=201, roles=OPS, errors=(409,), links=SIGN_LINK)
def publish_agreement_template(req: Request) -> TemplateOut:
    return agreements.publish(req.caller, req.body)


@route(bp, "GET", "/v1/contract/agreement-templates/{code}", operation="get_agreement_template",
       summary="The current version of an agreement's text, with its hash", center=CENTER,
       response_model=TemplateOut, errors=(404,), path_params={"code": TemplateCode}, links=SIGN_LINK)
def get_agreement_template(req: Request) -> TemplateOut:
    return agreements.latest(req.path_params["code"])


@route(bp, "POST", "/v1/contract/agreements", operation="sign_agreement", summary="Sign an agreement",
       center=CENTER, request_model=SignIn, response_model=AgreementOut, status=201, customer_only=True,
       errors=(404, 409, 422), links=AGREEMENT_LINKS,
       description="Only the current version, and only with the hash of its text (422 AGREEMENT_HASH_MISMATCH: "
                   "the text seen is not that version's). Kept as evidence: customer, time, channel, device "
                   "(X-Device-Id at login), version and hash. Signing the version in force answers that signature.")
def sign_agreement(req: Request) -> AgreementOut:
    return agreements.sign(req.caller, req.channel_name, req.body)


@route(bp, "GET", "/v1/contract/agreements", operation="list_agreements",
       summary="The caller's agreements (in force or revoked)", center=CENTER, response_model=AgreementList,
       customer_only=True)
def list_agreements(req: Request) -> AgreementList:
    return AgreementList(items=agreements.mine(req.caller))


@route(bp, "GET", "/v1/contract/agreements/{agreement_id}", operation="get_agreement",
       summary="One of the caller's signatures, with its evidence", center=CENTER, response_model=AgreementOut,
       customer_only=True, errors=(404,), path_params={"agreement_id": AgreementId})
def get_agreement(req: Request) -> AgreementOut:
    return agreements.get(req.caller, req.path_params["agreement_id"])


@route(bp, "POST", "/v1/contract/agreements/{agreement_id}/revocation", operation="revoke_agreement",
       summary="Revoke a signature in force", center=CENTER, response_model=AgreementOut, customer_only=True,
       errors=(404, 409), path_params={"agreement_id": AgreementId},
       description="Operations that need the agreement are refused from then on (422 AGREEMENT_REQUIRED) until "
                   "it is signed again.")
def revoke_agreement(req: Request) -> AgreementOut:
    return agreements.revoke(req.caller, req.path_params["agreement_id"])


@route(bp, "GET", "/v1/contract/limits", operation="get_limits",
       summary="The caller's limits on this channel: the bank's, their own, and what applies", center=CENTER,
       response_model=LimitsOut, customer_only=True, query={"txn_type": TxnType})
def get_limits(req: Request) -> LimitsOut:
    return limit_rules.view(req.caller, req.channel_name, req.query.get("txn_type"))


@route(bp, "PUT", "/v1/contract/limits/{txn_type}", operation="set_own_limits",
       summary="Set the caller's own limits for a transaction type on this channel", center=CENTER,
       request_model=OwnLimitsIn, response_model=LimitView, customer_only=True, errors=(403, 409, 422),
       path_params={"txn_type": TxnType}, headers={stepup.HEADER: stepup.Token},
       description="Lowering is free. Raising a limit the customer set (or removing it) needs a step-up token "
                   "for exactly this request in X-Step-Up-Token: POST /v1/auth/step-up with operation "
                   "limit_raise, this txn_type and, as `limits`, the body sent here; then its verify. Without one "
                   "403 STEP_UP_REQUIRED, one for other values 403 STEP_UP_INVALID, one already spent 409 "
                   "STEP_UP_ALREADY_USED (it is spent with the write). No value may exceed the bank's cap "
                   "(422 LIMIT_ABOVE_BANK_CAP).")
def set_own_limits(req: Request) -> LimitView:
    return limit_rules.set_own(req.caller, req.channel_name, req.path_params["txn_type"], req.body,
                               step_up_token=req.headers.get(stepup.HEADER.lower()))


@route(bp, "GET", "/v1/contract/limits/remaining", operation="get_remaining_limit",
       summary="How much the caller can still send today", center=CENTER, response_model=RemainingOut,
       customer_only=True, errors=(404, 503), query={"txn_type": TxnType, "account_id": AccountNumber},
       description="For this channel and the session's authentication level (txn_type defaults to transfer); "
                   "with account_id, also that account's PBOC caps. `can_send_now` is the least of them all.")
def get_remaining_limit(req: Request) -> RemainingOut:
    return limit_rules.remaining(req.caller, req.channel_name, req.query.get("txn_type", "transfer"),
                                 req.query.get("account_id"))


@route(bp, "GET", "/v1/ops/limit-definitions", operation="list_limit_definitions",
       summary="The bank's default limits and the account-type caps (ops)", center=CENTER,
       response_model=DefinitionList, roles=OPS)
def list_limit_definitions(req: Request) -> DefinitionList:
    return limit_rules.list_definitions()


@route(bp, "PUT", "/v1/ops/limit-definitions/{definition_id}", operation="update_limit_definition",
       summary="Change a default limit or an account type's caps (ops; audited)", center=CENTER,
       request_model=DefinitionIn, response_model=DefinitionOut, roles=OPS, errors=(404, 409, 422),
       path_params={"definition_id": DefinitionId},
       links={"Audit": Link.to("get_limit_definition_audit", "Who changed it, when, why.",
                               parameters={"definition_id": "$response.body#/definition_id"})},
       description="All values at once (a missing one removes that cap), with the revision read (409 "
                   "LIMIT_DEFINITION_CHANGED if it changed since) and a reason. Account-type caps never above "
                   "PBOC's (422 LIMIT_ABOVE_PBOC_CAP).")
def update_limit_definition(req: Request) -> DefinitionOut:
    return limit_rules.update_definition(req.caller, req.path_params["definition_id"], req.body)


@route(bp, "GET", "/v1/ops/limit-definitions/{definition_id}/audit", operation="get_limit_definition_audit",
       summary="A definition's audit trail, newest first (ops)", center=CENTER, response_model=AuditTrail,
       roles=OPS, errors=(404,), path_params={"definition_id": DefinitionId})
def get_limit_definition_audit(req: Request) -> AuditTrail:
    return limit_rules.audit(req.path_params["definition_id"])
