"""The campaign state machine: draft → scheduled → running ⇄ paused → ended.

Staff move a campaign with actions; time moves it too: a scheduled campaign runs from its window's start, and
a campaign whose window has closed has ended. The stored state is what the last action left; the effective
state (`effective`) applies the clock to it, so nothing has to be swept at the exact second a window opens.
Illegal moves are refused with 409 ILLEGAL_TRANSITION (a stable code, the states in its details).
"""

from __future__ import annotations

from bank_common.errors import Conflict

STATES = ("draft", "scheduled", "running", "paused", "ended")

# (effective state, action) → the state it leads to.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "schedule"): "scheduled",
    ("scheduled", "schedule"): "scheduled",  # before the start: pins the latest version again
    ("running", "pause"): "paused",
    ("paused", "resume"): "running",
    ("scheduled", "end"): "ended",
    ("running", "end"): "ended",
    ("paused", "end"): "ended",
}
ACTIONS = tuple(sorted({action for _, action in TRANSITIONS}))


class IllegalTransition(Conflict):
    code, message = "ILLEGAL_TRANSITION", "The campaign cannot do that in its current state."


class CampaignEnded(Conflict):
    code, message = "CAMPAIGN_ENDED", "The campaign has ended; it can no longer be changed."


def effective(stored: str, starts_at_ms: int, ends_at_ms: int, now_ms: int) -> str:
    """The state the clock makes of the stored one."""
    if stored in ("scheduled", "running", "paused") and now_ms >= ends_at_ms:
        return "ended"
    if stored == "scheduled" and now_ms >= starts_at_ms:
        return "running"
    return stored


def next_state(current: str, action: str) -> str:
    """Where `action` takes a campaign whose effective state is `current` (409 when it may not)."""
    target = TRANSITIONS.get((current, action))
    if target is None:
        raise IllegalTransition(details={"state": current, "action": action,
                                         "allowed": sorted(a for (s, a) in TRANSITIONS if s == current)})
    return target


def editable(current: str) -> None:
    """Edits make a new version in any state but ended (a running campaign keeps the version it started with)."""
    if current == "ended":
        raise CampaignEnded()
