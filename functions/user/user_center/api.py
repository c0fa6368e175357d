"""Routes of the user center."""

from __future__ import annotations

from bank_common.client import internal_handler
from bank_common.http import Blueprint, Link, Request, route
from bank_common.schema import DeviceId
from user_center import logic
from user_center.schemas import AgreementsOut, RegisterIn, RegisterOut

bp = Blueprint(__name__)
CENTER = "user"
DEVICE = {"X-Device-Id": DeviceId}


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


internal = internal_handler({"get_customer": logic.get_customer})
