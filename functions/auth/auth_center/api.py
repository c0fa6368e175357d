"""Routes of the authentication center, and its direct-invoke operations."""

from __future__ import annotations

from auth_center import logic
from auth_center.schemas import DeviceId, LoginIn, StaffLoginIn, TokenOut
from bank_common.client import internal_handler, operation_handler
from bank_common.http import Blueprint, Request, route
from bank_common.schema import canonical_mobile

bp = Blueprint(__name__)
CENTER = "auth"


@route(bp, "POST", "/v1/auth/login", operation="customer_login", summary="Customer login with mobile and password",
       center=CENTER, request_model=LoginIn, response_model=TokenOut, public=True, errors=(401, 403),
       headers={"X-Device-Id": DeviceId})
def customer_login(req: Request) -> TokenOut:
    return logic.login(logic.CUSTOMER_LOGIN + canonical_mobile(req.body.mobile), req.body.password, "customer",
                       req.channel_name, logic.device_id(req.headers.get("x-device-id")))


@route(bp, "POST", "/v1/auth/staff/login", operation="staff_login", summary="Bank staff login (role claims)",
       center=CENTER, request_model=StaffLoginIn, response_model=TokenOut, public=True, errors=(401, 403),
       headers={"X-Device-Id": DeviceId})
def staff_login(req: Request) -> TokenOut:
    return logic.login(logic.STAFF_LOGIN + req.body.username, req.body.password, "staff", req.channel_name,
                       logic.device_id(req.headers.get("x-device-id")))


# Invoked by the user center's registration (AuthInternalFunction).
internal = internal_handler({"create_credential": logic.create_credential})
# Invoked by operations only, never by another center (ProvisionStaffFunction).
provision_staff = operation_handler(logic.provision_staff)
