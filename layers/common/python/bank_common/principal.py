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
    device_id: str = ""
    auth_level: str = "L1"

    def context(self) -> dict[str, str]:
        """The flat string map an API Gateway authorizer may return (and handlers read back)."""
        return {"subject": self.subject, "kind": self.kind, "roles": ",".join(self.roles),
                "channel": self.channel, "device_id": self.device_id, "auth_level": self.auth_level}

    @classmethod
    def from_context(cls, ctx: dict[str, Any]) -> Principal:
        roles = tuple(r for r in str(ctx.get("roles", "")).split(",") if r)
        return cls(subject=str(ctx["subject"]), kind=str(ctx["kind"]), roles=roles,
                   channel=str(ctx.get("channel", "")), device_id=str(ctx.get("device_id", "")),
                   auth_level=str(ctx.get("auth_level", "L1")))
