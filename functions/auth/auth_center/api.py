"""Routes of the authentication center."""

from __future__ import annotations

from auth_center import logic
from auth_center.schemas import LoginIn, StaffLoginIn, TokenOut
from bank_common.client import internal_handler
from bank_common.http import Blueprint, Request, route

bp = Blueprint(__name__)
CENTER = "auth"


@route(bp, "POST", "/v1/auth/login", operation="customer_login", summary="Customer login with mobile and password",
       center=CENTER, request_model=LoginIn, response_model=TokenOut, public=True, errors=(401, 403))
def customer_login(req: Request) -> TokenOut:
    assert req.channel is not None
    return logic.login(f"mobile:{req.body.mobile}", req.body.password, "customer", req.channel,
                       logic.device_id(req.headers.get("x-device-id")))


@route(bp, "POST", "/v1/auth/staff/login", operation="staff_login", summary="Bank staff login (role claims)",
       center=CENTER, request_model=StaffLoginIn, response_model=TokenOut, public=True, errors=(401, 403))
def staff_login(req: Request) -> TokenOut:
    assert req.channel is not None
    return logic.login(f"staff:{req.body.username}", req.body.password, "staff", req.channel,
                       logic.device_id(req.headers.get("x-device-id")))


internal = internal_handler({"create_credential": logic.create_credential})
