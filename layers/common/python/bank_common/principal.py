"""The verified caller, as the authorizer passes it to every function (no JWT library needed here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Principal:
    subject: str  # customer id or staff id
    kind: str  # "customer" | "staff"
    roles: tuple[str, ...] = ()
    channel: str = ""
    device_id: str = ""  # the X-Device-Id the token is bound to (the authorizer compares them)
    auth_level: str = "L1"
    session_id: str = ""  # the session family (`sid`): logout and refresh-token reuse revoke it as a whole
    issued_at_ms: int = 0  # when the token was signed; tokens from before a revoke-all are refused

    def context(self) -> dict[str, str]:
        """The flat string map an API Gateway authorizer may return (and handlers read back)."""
        return {"subject": self.subject, "kind": self.kind, "roles": ",".join(self.roles),
                "channel": self.channel, "device_id": self.device_id, "auth_level": self.auth_level,
                "session_id": self.session_id}

    @classmethod
    def from_context(cls, ctx: dict[str, Any]) -> Principal:
        roles = tuple(r for r in str(ctx.get("roles", "")).split(",") if r)
        return cls(subject=str(ctx["subject"]), kind=str(ctx["kind"]), roles=roles,
                   channel=str(ctx.get("channel", "")), device_id=str(ctx.get("device_id", "")),
                   auth_level=str(ctx.get("auth_level", "L1")), session_id=str(ctx.get("session_id", "")))
