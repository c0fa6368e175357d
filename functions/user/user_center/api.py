"""Routes of the user center."""

from __future__ import annotations

from bank_common.client import internal_handler
from bank_common.http import Blueprint, Link, Request, route
from user_center import logic
from user_center.schemas import RegisterIn, RegisterOut

bp = Blueprint(__name__)
CENTER = "user"


@route(bp, "POST", "/v1/user/customers", operation="register_customer",
       summary="Register a customer with mobile number and password", center=CENTER, request_model=RegisterIn,
       response_model=RegisterOut, status=201, public=True, errors=(409, 503),
       links={"Login": Link.to("customer_login", "Log in with the mobile number and password just registered.",
                               body={"mobile": "$request.body#/mobile", "password": "$request.body#/password"})})
def register_customer(req: Request) -> RegisterOut:
    return RegisterOut(customer_id=logic.register(req.body))


internal = internal_handler({"get_customer": logic.get_customer})
