"""EventBridge schedule expressions, evaluated locally (the local run's scheduler fires them)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo

_CRON = re.compile(r"^cron\(\s*(\d{1,2})\s+(\d{1,2})\s+\*\s+\*\s+\?\s+\*\s*\)$")
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours)\s*\)$")


class UnsupportedSchedule(ValueError):
    pass


def _zone(name: str | None) -> tzinfo:
    if not name or name == "UTC":
        return UTC
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # noqa: BLE001 - no tz database: Shanghai has a fixed offset and no DST
        if name == "Asia/Shanghai":
            return timezone(timedelta(hours=8), name)
        raise UnsupportedSchedule(f"unknown time zone {name!r}") from None


def next_fire(expression: str, tz_name: str | None, after: datetime) -> datetime:
    """The next time strictly after `after` (aware) that the expression fires. Supports only
    `cron(M H * * ? *)` (daily at H:M in the schedule's time zone) and `rate(N minutes|hours)`."""
    expression = expression.strip()
    cron = _CRON.match(expression)
    if cron:
        minute, hour = int(cron.group(1)), int(cron.group(2))
        if minute > 59 or hour > 23:
            raise UnsupportedSchedule(f"{expression}: minute/hour out of range")
        local = after.astimezone(_zone(tz_name))
        candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if candidate <= local:
            candidate = (local + timedelta(days=1)).replace(hour=hour, minute=minute, second=0, microsecond=0)
        return candidate
    rate = _RATE.match(expression)
    if rate:
        n = int(rate.group(1))
        if n < 1:
            raise UnsupportedSchedule(f"{expression}: the rate must be at least 1")
        step = timedelta(minutes=n) if rate.group(2).startswith("minute") else timedelta(hours=n)
        return after + step
    raise UnsupportedSchedule(
        f"{expression!r} is not supported by the local scheduler (only 'cron(M H * * ? *)' and "
        "'rate(N minutes|hours)')")
