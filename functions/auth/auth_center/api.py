"""Routes of the authentication center, and its direct-invoke operations."""

from __future__ import annotations

from auth_center import devices, logic, otp, sessions, step_up
from auth_center.schemas import (
    ChallengeId,
    DeviceListOut,
    DeviceLoginIn,
    DeviceOut,
    JwksOut,
    LoginIn,
    OtpSendIn,
    OtpSentOut,
    PasswordChangeIn,
    PasswordResetIn,
    RefreshIn,
    ServerDeviceId,
    StaffLoginIn,
    StepUpIn,
    StepUpOut,
    StepUpTokenOut,
    StepUpVerifyIn,
    TokenOut,
)
from bank_common import queue, schema, tokens
from bank_common.client import internal_handler, operation_handler
from bank_common.http import Blueprint, Link, Request, Required, route
from bank_common.schema import DeviceId, canonical_mobile

bp = Blueprint(__name__)
CENTER = "auth"
DEVICE = {"X-Device-Id": Required(DeviceId)}  # every session is bound to the device it was started on


def _client(req: Request, device: object = None) -> logic.Client:
    return logic.Client(channel=req.channel_name, fingerprint=req.headers.get("x-device-id") or "",
                        device=device,  # type: ignore[arg-type]
                        source_ip=req.source_ip)


@route(bp, "POST", "/v1/auth/otp", operation="send_otp", summary="Text a one-time password (registration, "
       "password reset)", center=CENTER, request_model=OtpSendIn, response_model=OtpSentOut, status=202,
       public=True, errors=(429, 503))
def send_otp(req: Request) -> OtpSentOut:
    issued = logic.send_otp(req.body.purpose, canonical_mobile(req.body.mobile), req.source_ip)
    return OtpSentOut(challenge_id=issued.challenge_id, expires_in=issued.expires_in,
                      resend_after=issued.resend_after)


@route(bp, "POST", "/v1/auth/login", operation="customer_login", summary="Customer login with mobile and password",
       center=CENTER, request_model=LoginIn, response_model=TokenOut, public=True, errors=(401, 403, 409, 429, 503),
       headers=DEVICE)
def customer_login(req: Request) -> TokenOut:
    return logic.login(logic.CUSTOMER_LOGIN + canonical_mobile(req.body.mobile), req.body.password, "customer",
                       _client(req, req.body.device))


@route(bp, "POST", "/v1/auth/login/device", operation="verify_device_login",
       summary="Finish a login from a new device with the texted code (binds the device)", center=CENTER,
       request_model=DeviceLoginIn, response_model=TokenOut, public=True, errors=(401, 403, 409), headers=DEVICE)
def verify_device_login(req: Request) -> TokenOut:
    client = _client(req)
    if not client.fingerprint:
        raise devices.DeviceIdRequired()
    return logic.verify_device_login(req.body.challenge_id, req.body.code, client)


@route(bp, "POST", "/v1/auth/staff/login", operation="staff_login", summary="Bank staff login (role claims)",
       center=CENTER, request_model=StaffLoginIn, response_model=TokenOut, public=True, errors=(401, 403, 429),
       headers=DEVICE)
def staff_login(req: Request) -> TokenOut:
    return logic.login(logic.STAFF_LOGIN + req.body.username, req.body.password, "staff", _client(req))


@route(bp, "POST", "/v1/auth/token/refresh", operation="refresh_token",
       summary="Exchange a refresh token for new tokens (it rotates; reusing one ends the session)",
       center=CENTER, request_model=RefreshIn, response_model=TokenOut, public=True, errors=(401,), headers=DEVICE)
def refresh_token(req: Request) -> TokenOut:
    return sessions.refresh(req.body.refresh_token, req.channel_name, req.headers.get("x-device-id") or "")


@route(bp, "POST", "/v1/auth/logout", operation="logout", summary="End this session (every token of it)",
       center=CENTER, status=204)
def logout(req: Request) -> None:
    sessions.logout(req.caller)


@route(bp, "POST", "/v1/auth/sessions/revoke-all", operation="revoke_all_sessions",
       summary="End every session of the caller, on every device", center=CENTER, status=204)
def revoke_all_sessions(req: Request) -> None:
    sessions.revoke_all(req.caller.subject)


@route(bp, "GET", "/v1/auth/jwks", operation="get_jwks", summary="Public keys that verify the platform's tokens "
       "(JWKS)", center=CENTER, response_model=JwksOut, public=True, channel_required=False,
       response_headers={"Cache-Control": "public, max-age=300"})
def get_jwks(req: Request) -> JwksOut:
    return schema.decode(tokens.jwks_document(), JwksOut)


@route(bp, "GET", "/v1/auth/devices", operation="list_devices", summary="The caller's bound devices",
       center=CENTER, response_model=DeviceListOut, customer_only=True)
def list_devices(req: Request) -> DeviceListOut:
    found = devices.listed(req.caller.subject, req.caller.device_id)
    return DeviceListOut(items=[DeviceOut(device_id=d.device_id, platform=d.platform, model=d.model,
                                          bound_at=d.bound_at, last_seen_at=d.last_seen_at, current=current)
                                for d, current in found], limit=devices.limit())


@route(bp, "DELETE", "/v1/auth/devices/{device_id}", operation="unbind_device",
       summary="Unbind one of the caller's devices (its sessions end)", center=CENTER, status=204, errors=(404,),
       customer_only=True, path_params={"device_id": ServerDeviceId})
def unbind_device(req: Request) -> None:
    devices.unbind(req.caller.subject, req.path_params["device_id"])


@route(bp, "POST", "/v1/auth/step-up", operation="create_step_up",
       summary="Ask for a second factor for one exact money request (a code is texted)", center=CENTER,
       request_model=StepUpIn, response_model=StepUpOut, status=201, customer_only=True, errors=(429, 503),
       links={"Verify": Link.to("verify_step_up", "Verify the texted code for this challenge.",
                                parameters={"challenge_id": "$response.body#/challenge_id"})})
def create_step_up(req: Request) -> StepUpOut:
    return step_up.create(req.caller, req.body, req.source_ip)


@route(bp, "POST", "/v1/auth/step-up/{challenge_id}/verify", operation="verify_step_up",
       summary="Verify a step-up challenge's code; returns the single-use step-up token", center=CENTER,
       request_model=StepUpVerifyIn, response_model=StepUpTokenOut, customer_only=True, errors=(404, 409),
       path_params={"challenge_id": ChallengeId})
def verify_step_up(req: Request) -> StepUpTokenOut:
    return step_up.verify(req.caller, req.path_params["challenge_id"], req.body.code)


@route(bp, "POST", "/v1/auth/password", operation="change_password",
       summary="Change the password (every session ends; a new one for this device is returned)", center=CENTER,
       request_model=PasswordChangeIn, response_model=TokenOut, customer_only=True)
def change_password(req: Request) -> TokenOut:
    return logic.change_password(req.caller, req.body.old_password, req.body.new_password)


@route(bp, "POST", "/v1/auth/password/reset", operation="reset_password",
       summary="Set a new password with a code texted for `password_reset` (every session ends)", center=CENTER,
       request_model=PasswordResetIn, status=204, public=True, errors=(401, 403, 409))
def reset_password(req: Request) -> None:
    logic.reset_password(canonical_mobile(req.body.mobile), req.body.challenge_id, req.body.code,
                         req.body.new_password)


# Invoked by the user center (AuthInternalFunction): registration's code check and credential, the password
# login switched off and on. It holds neither the signing key nor the sessions table (IAM proves it).
internal = internal_handler({"create_credential": logic.create_credential, "verify_otp": logic.verify_otp,
                             "set_password_login": logic.set_password_login})
# Invoked by the user center's channel login (AuthSessionsFunction): the session of a customer it identified by
# a linked WeChat or Alipay identity. A function of its own so that only it, of the internal ones, signs tokens.
internal_sessions = internal_handler({"start_session": logic.start_session})
# Invoked by operations only, never by another center (ProvisionStaffFunction, DeprovisionStaffFunction).
provision_staff = operation_handler(logic.provision_staff)
deprovision_staff = operation_handler(logic.deprovision_staff)


def send_otp_sms(event: dict, context: object = None) -> dict:
    """OtpQueue → the SMS sender (OtpSenderFunction): partial batch failures go back to SQS."""
    return queue.process_sqs(event, otp.send_sms)
