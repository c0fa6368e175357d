"""Devices: a server-side id for what the client says it is, binding, listing and unbinding.

The server-side id is an HMAC (a key derived from the center's secret) of the canonical client attributes:
the fingerprint the client sends as X-Device-Id and the platform it declares. It is what is stored, listed
and unbound, so the table never holds the client's own identifier, and two customers' ids for one phone
cannot be linked by anyone without the secret. The access token carries the X-Device-Id itself (`dev`),
which the authorizer compares with every request's header.

A customer's login from a device that is not bound needs a code texted to the registered mobile; the code
binds the device. At most MAX_BOUND_DEVICES are bound (counted in the same transaction as the binding);
one more is 409 DEVICE_LIMIT_REACHED until the customer unbinds one, which also ends its sessions.
"""

from __future__ import annotations

import base64
import hmac
import json
from datetime import UTC, datetime
from hashlib import sha256

from auth_center import sessions, store
from auth_center.models import Device
from auth_center.otp import SECRET
from bank_common import config, crypto
from bank_common.errors import ApiError, Conflict, NotFound


class DeviceIdRequired(ApiError):
    code, message = "DEVICE_ID_REQUIRED", "Send the device's fingerprint in X-Device-Id."


class DeviceLimitReached(Conflict):
    code = "DEVICE_LIMIT_REACHED"
    message = "The maximum number of devices is bound; unbind one (GET/DELETE /v1/auth/devices) first."


class DeviceNotFound(NotFound):
    code, message = "DEVICE_NOT_FOUND", "No such device is bound to you."


def limit() -> int:
    return int(config.env("MAX_BOUND_DEVICES", "5"))


def canonical(fingerprint: str, platform: str) -> str:
    return json.dumps({"fingerprint": fingerprint, "platform": platform or "unknown", "v": 1},
                      separators=(",", ":"), sort_keys=True)


def server_id(fingerprint: str, platform: str) -> str:
    digest = hmac.new(crypto.key(*SECRET, "device-id"), canonical(fingerprint, platform).encode(), sha256).digest()
    return "dv_" + base64.b32encode(digest).decode().lower()[:26]


def is_bound(subject: str, device_server_id: str) -> bool:
    found = store.device(subject, device_server_id)
    if found is not None:
        store.touch_device(found, datetime.now(UTC).isoformat())
    return found is not None


def bind(subject: str, fingerprint: str, platform: str, model: str, channel: str) -> str:
    """Bind a device (idempotent); its server-side id. 409 DEVICE_LIMIT_REACHED when full."""
    device_server_id = server_id(fingerprint, platform)
    now = datetime.now(UTC).isoformat()
    new = Device(store.subject_key(subject), f"DEV#{device_server_id}", device_id=device_server_id,
                 platform=platform, model=model, bound_at=now, bound_channel=channel, last_seen_at=now)
    try:
        store.bind_device(new, limit())
    except store.DeviceLimit:
        raise DeviceLimitReached(details={"limit": limit()}) from None
    return device_server_id


def listed(subject: str, current_fingerprint: str) -> list[tuple[Device, bool]]:
    found = store.devices(subject)
    ids = {d.device_id for d in found}
    current = {i for i in ids if any(server_id(current_fingerprint, p) == i for p in _platforms(found, i))}
    return [(d, d.device_id in current) for d in sorted(found, key=lambda d: d.bound_at)]


def _platforms(found: list[Device], device_server_id: str) -> set[str]:
    return {d.platform for d in found if d.device_id == device_server_id}


def unbind(subject: str, device_server_id: str) -> None:
    """Unbind one of the customer's devices and end its sessions; another customer's device is not found."""
    try:
        store.unbind_device(subject, device_server_id)
    except store.NotFound:
        raise DeviceNotFound() from None
    sessions.revoke_device(subject, device_server_id)
