"""Routes of the user center."""

from __future__ import annotations

from bank_common.client import internal_handler
from bank_common.errors import BusinessRuleViolation
from bank_common.http import Blueprint, Link, Request, Required, route
from bank_common.schema import DeviceId
from user_center import identities, kyc, logic, profile, risk
from user_center.schemas import (
    AddressId,
    AddressIn,
    AddressListOut,
    AddressOut,
    AgreementsOut,
    ChannelLoginIn,
    ChannelLoginOut,
    IdentityId,
    IdentityListOut,
    IdentityOut,
    KycId,
    KycOut,
    KycStartOut,
    LinkIdentityIn,
    PreferencesIn,
    PreferencesOut,
    ProfileOut,
    ProfileUpdateIn,
    QuestionnaireOut,
    RegisterIn,
    RegisterOut,
    RiskAnswersIn,
    RiskAssessmentOut,
)

bp = Blueprint(__name__)
CENTER = "user"
DEVICE = {"X-Device-Id": DeviceId}  # registration binds the device when it is named
SESSION_DEVICE = {"X-Device-Id": Required(DeviceId)}  # a session is bound to the device it was started on


@route(bp, "GET", "/v1/user/agreements", operation="get_agreements",
       summary="The current privacy policy and service agreement versions (accepted at registration)",
       center=CENTER, response_model=AgreementsOut, public=True,
       response_headers={"Cache-Control": "public, max-age=300"})
def get_agreements(req: Request) -> AgreementsOut:
    return logic.agreements()


@route(bp, "POST", "/v1/user/customers", operation="register_customer",
       summary="Register a customer: mobile verified by a texted code (POST /v1/auth/otp), password, consents",
       center=CENTER, request_model=RegisterIn, response_model=RegisterOut, status=201, public=True,
       errors=(401, 403, 409, 422, 429, 503), headers=DEVICE,
       links={"Login": Link.to("customer_login", "Log in with the mobile number and password just registered.",
                               body={"mobile": "$request.body#/mobile", "password": "$request.body#/password"})})
def register_customer(req: Request) -> RegisterOut:
    return RegisterOut(customer_id=logic.register(req.body, req.channel_name, req.headers.get("x-device-id") or "",
                                                  req.source_ip))


@route(bp, "GET", "/v1/user/profile", operation="get_profile", summary="The caller's profile (personal data masked)",
       center=CENTER, response_model=ProfileOut, customer_only=True, errors=(404,))
def get_profile(req: Request) -> ProfileOut:
    return profile.profile(req.caller.subject)


@route(bp, "PATCH", "/v1/user/profile", operation="update_profile", summary="Change the caller's nickname or e-mail",
       center=CENTER, request_model=ProfileUpdateIn, response_model=ProfileOut, customer_only=True, errors=(404,))
def update_profile(req: Request) -> ProfileOut:
    return profile.update_profile(req.caller.subject, req.body.nickname, req.body.email)


@route(bp, "GET", "/v1/user/preferences/notifications", operation="get_notification_preferences",
       summary="The caller's notification preferences", center=CENTER, response_model=PreferencesOut,
       customer_only=True)
def get_notification_preferences(req: Request) -> PreferencesOut:
    return profile.preferences(req.caller.subject)


@route(bp, "PUT", "/v1/user/preferences/notifications", operation="update_notification_preferences",
       summary="Set the caller's notification preferences (security notices stay on)", center=CENTER,
       request_model=PreferencesIn, response_model=PreferencesOut, customer_only=True, errors=(422,))
def update_notification_preferences(req: Request) -> PreferencesOut:
    return profile.set_preferences(req.caller.subject, req.body)


@route(bp, "GET", "/v1/user/addresses", operation="list_addresses", summary="The caller's addresses",
       center=CENTER, response_model=AddressListOut, customer_only=True)
def list_addresses(req: Request) -> AddressListOut:
    return profile.addresses(req.caller.subject)


@route(bp, "POST", "/v1/user/addresses", operation="add_address", summary="Add an address", center=CENTER,
       request_model=AddressIn, response_model=AddressOut, status=201, customer_only=True, errors=(409,),
       links={"Update": Link.to("update_address", "Change this address.",
                                parameters={"address_id": "$response.body#/address_id"}),
              "Delete": Link.to("delete_address", "Delete this address.",
                                parameters={"address_id": "$response.body#/address_id"})})
def add_address(req: Request) -> AddressOut:
    return profile.add_address(req.caller.subject, req.body)


@route(bp, "PUT", "/v1/user/addresses/{address_id}", operation="update_address", summary="Change an address",
       center=CENTER, request_model=AddressIn, response_model=AddressOut, customer_only=True, errors=(404,),
       path_params={"address_id": AddressId})
def update_address(req: Request) -> AddressOut:
    return profile.update_address(req.caller.subject, req.path_params["address_id"], req.body)


@route(bp, "DELETE", "/v1/user/addresses/{address_id}", operation="delete_address", summary="Delete an address",
       center=CENTER, status=204, customer_only=True, errors=(404,), path_params={"address_id": AddressId})
def delete_address(req: Request) -> None:
    profile.delete_address(req.caller.subject, req.path_params["address_id"])


@route(bp, "GET", "/v1/user/risk-questionnaire", operation="get_risk_questionnaire",
       summary="The current risk-tolerance questionnaire", center=CENTER, response_model=QuestionnaireOut,
       customer_only=True)
def get_risk_questionnaire(req: Request) -> QuestionnaireOut:
    return risk.questionnaire()


@route(bp, "POST", "/v1/user/risk-assessments", operation="submit_risk_assessment",
       summary="Answer the questionnaire: scored to C1-C5, kept with the answers, valid for a year", center=CENTER,
       request_model=RiskAnswersIn, response_model=RiskAssessmentOut, status=201, customer_only=True,
       errors=(422,))
def submit_risk_assessment(req: Request) -> RiskAssessmentOut:
    return risk.assess(req.caller.subject, req.body)


@route(bp, "GET", "/v1/user/risk-assessment", operation="get_risk_assessment",
       summary="The caller's current risk assessment (with its answers and expiry)", center=CENTER,
       response_model=RiskAssessmentOut, customer_only=True, errors=(404,))
def get_risk_assessment(req: Request) -> RiskAssessmentOut:
    return risk.current(req.caller.subject)


@route(bp, "GET", "/v1/user/identities", operation="list_identities",
       summary="The caller's ways to log in: the password and linked WeChat / Alipay identities", center=CENTER,
       response_model=IdentityListOut, customer_only=True, errors=(404,))
def list_identities(req: Request) -> IdentityListOut:
    return identities.listed(req.caller.subject)


@route(bp, "POST", "/v1/user/identities", operation="link_identity",
       summary="Link a WeChat or Alipay identity (the channel SDK's code), or add the password login back",
       center=CENTER, request_model=LinkIdentityIn, response_model=IdentityOut, status=201, customer_only=True,
       errors=(401, 404, 409, 422, 503),
       links={"Unlink": Link.to("unlink_identity", "Remove this way to log in.",
                                parameters={"identity_id": "$response.body#/identity_id"})})
def link_identity(req: Request) -> IdentityOut:
    problem = req.body.mismatch()
    if problem:
        raise BusinessRuleViolation("This provider is linked with other fields.", code="LINK_FIELDS_MISMATCH",
                                    details=[{"field": "password" if req.body.provider == "password" else "code",
                                              "problem": problem}])
    if req.body.provider == "password":
        return identities.relink_password(req.caller.subject, req.body.password)
    return identities.link(req.caller.subject, req.body.provider, req.body.code)


@route(bp, "DELETE", "/v1/user/identities/{identity_id}", operation="unlink_identity",
       summary="Remove a way to log in (never the last one)", center=CENTER, status=204, customer_only=True,
       errors=(404, 409, 503), path_params={"identity_id": IdentityId})
def unlink_identity(req: Request) -> None:
    identities.unlink(req.caller.subject, req.path_params["identity_id"])


@route(bp, "POST", "/v1/user/identities/login", operation="channel_login",
       summary="Log in with a linked WeChat or Alipay identity (a new device needs a texted code)", center=CENTER,
       request_model=ChannelLoginIn, response_model=ChannelLoginOut, public=True, errors=(401, 403, 404, 409, 429, 503),
       headers=SESSION_DEVICE)
def channel_login(req: Request) -> ChannelLoginOut:
    device = {"platform": req.body.device.platform, "model": req.body.device.model} if req.body.device else None
    answer = identities.login(req.body.provider, req.body.code, req.channel_name, req.headers.get("x-device-id") or "",
                              device, req.source_ip)
    return ChannelLoginOut(**answer)


@route(bp, "POST", "/v1/user/kyc", operation="start_kyc",
       summary="Start identity verification: presigned PUT URLs for the ID card's sides and a selfie", center=CENTER,
       response_model=KycStartOut, status=201, customer_only=True, errors=(404, 409, 429),
       links={"Verify": Link.to("verify_kyc", "Verify once the images are uploaded.",
                                parameters={"kyc_id": "$response.body#/kyc_id"})})
def start_kyc(req: Request) -> KycStartOut:
    return kyc.start(req.caller.subject)


@route(bp, "POST", "/v1/user/kyc/{kyc_id}/verify", operation="verify_kyc",
       summary="Verify the uploaded ID card and face: KYC level L2 when everything passes", center=CENTER,
       response_model=KycOut, customer_only=True, errors=(404, 409, 422), path_params={"kyc_id": KycId})
def verify_kyc(req: Request) -> KycOut:
    return kyc.verify(req.caller.subject, req.path_params["kyc_id"])


@route(bp, "GET", "/v1/user/kyc", operation="get_kyc", summary="The caller's KYC level and latest verification",
       center=CENTER, response_model=KycOut, customer_only=True, errors=(404,))
def get_kyc(req: Request) -> KycOut:
    return kyc.status(req.caller.subject)


internal = internal_handler({"get_customer": logic.get_customer})
