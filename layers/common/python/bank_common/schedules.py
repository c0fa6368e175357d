"""EventBridge Scheduler expressions: validated where a center creates a schedule at run time (a campaign's cron
is refused with a 422 before EventBridge would refuse it) and evaluated by the local run's scheduler (infra.schedules),
which fires them as EventBridge Scheduler would.

The three forms of a schedule expression, as EventBridge Scheduler documents them:
- `at(yyyy-mm-ddThh:mm:ss)`: once, in the schedule's time zone;
- `rate(N minute|minutes|hour|hours|day|days)`;
- `cron(minutes hours day-of-month month day-of-week year)`: `*`, `,`, `-` and `/` in every field; `?` in one of
  day-of-month and day-of-week (exactly one of them is `?`); `L` (last day of the month) and `L-n` in
  day-of-month; day-of-week 1-7 = SUN-SAT or their names, with `L` (Saturday), `nL` (the last such day of the
  month) and `n#k` (the k-th such day); month 1-12 or JAN-DEC; year 1970-2199. `W` (nearest weekday) is refused:
  an expression the scheduler cannot evaluate exactly is an error, never an approximation.
The local run has no EventBridge to refuse an expression, so it validates them here too (a contract test keeps the
templates' expressions valid; tests/unit/test_schedules.py checks the arithmetic against croniter).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_CRON = re.compile(r"^cron\((.*)\)$")
MONTHS = {name: i for i, name in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT",
                                              "NOV", "DEC"), start=1)}
DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
SEARCH_DAYS = 366 * 8  # a cron that matches nothing in 8 years (e.g. Feb 30) is refused


class UnsupportedSchedule(ValueError):
    pass


class ScheduleDone(Exception):
    """A one-time `at()` schedule whose instant has passed: it fires no more."""


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


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """`*`, `a`, `a-b`, `*/s`, `a/s`, `a-b/s` and lists of them, within [low, high]."""
    out: set[int] = set()
    for part in field.split(","):
        body, _, step_text = part.partition("/")
        step = _number(step_text, 1, high - low + 1 if high > low else 1, None) if step_text else 1
        if body == "*":
            start, end = low, high
        elif "-" in body:
            a, _, b = body.partition("-")
            start, end = _number(a, low, high, names), _number(b, low, high, names)
            if start > end:
                raise UnsupportedSchedule(f"range {body} runs backwards")
        else:
            start = _number(body, low, high, names)
            end = high if step_text else start
        out.update(range(start, end + 1, step))
    return frozenset(out)


def _number(text: str, low: int, high: int, names: dict[str, int] | None) -> int:
    text = text.strip().upper()
    if names and text in names:
        return names[text]
    if not text.isdigit():
        raise UnsupportedSchedule(f"{text!r} is not a number in {low}-{high}")
    value = int(text)
    if not low <= value <= high:
        raise UnsupportedSchedule(f"{value} is outside {low}-{high}")
    return value


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    dom: str  # the raw day-of-month field ("?" when day-of-week decides)
    months: frozenset[int]
    dow: str  # the raw day-of-week field
    years: frozenset[int]

    @classmethod
    def parse(cls, body: str) -> Cron:
        fields = body.split()
        if len(fields) != 6:
            raise UnsupportedSchedule(f"cron({body}) needs 6 fields: minutes hours day-of-month month "
                                      "day-of-week year")
        minute, hour, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise UnsupportedSchedule(f"cron({body}): exactly one of day-of-month and day-of-week is '?'")
        cron = cls(_values(minute, 0, 59), _values(hour, 0, 23), dom.upper(), _values(month.upper(), 1, 12, MONTHS),
                   dow.upper(), _values(year, 1970, 2199))
        probe = date(2001, 1, 1)
        cron._dom_matches(probe)  # validates the day fields
        cron._dow_matches(probe)
        return cron

    def _dom_matches(self, day: date) -> bool:
        if self.dom == "?":
            return True
        last = calendar.monthrange(day.year, day.month)[1]
        if self.dom == "L":
            return day.day == last
        if self.dom.startswith("L-"):
            return day.day == last - _number(self.dom[2:], 0, 30, None)
        if "W" in self.dom:
            raise UnsupportedSchedule("'W' (nearest weekday) is not supported by the local scheduler")
        return day.day in _values(self.dom, 1, 31)

    def _dow_matches(self, day: date) -> bool:
        if self.dow == "?":
            return True
        weekday = (day.weekday() + 1) % 7 + 1  # Python: Monday 0 → AWS: Sunday 1 ... Saturday 7
        if self.dow == "L":
            return weekday == 7
        if self.dow.endswith("L"):
            target = _number(self.dow[:-1], 1, 7, DAYS)
            return weekday == target and day.day + 7 > calendar.monthrange(day.year, day.month)[1]
        if "#" in self.dow:
            which, _, nth = self.dow.partition("#")
            return weekday == _number(which, 1, 7, DAYS) and (day.day - 1) // 7 + 1 == _number(nth, 1, 5, None)
        return weekday in _values(self.dow, 1, 7, DAYS)

    def day_matches(self, day: date) -> bool:
        return day.year in self.years and day.month in self.months and self._dom_matches(day) \
            and self._dow_matches(day)

    def next_after(self, local: datetime) -> datetime:
        """The first matching minute strictly after `local` (naive or aware, in the schedule's zone)."""
        start = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for offset in range(SEARCH_DAYS):
            candidate = day + timedelta(days=offset)
            if not self.day_matches(candidate):
                continue
            earliest = (start.hour, start.minute) if offset == 0 else (0, 0)
            times = sorted((h, m) for h in self.hours for m in self.minutes if (h, m) >= earliest)
            if times:
                h, m = times[0]
                return start.replace(year=candidate.year, month=candidate.month, day=candidate.day, hour=h, minute=m)
        raise UnsupportedSchedule("the expression matches no time in the next eight years")


def parse_at(expression: str, tz_name: str | None) -> datetime | None:
    """The instant of an `at(...)` expression, in its zone (None if it is not one)."""
    found = _AT.match(expression.strip())
    if not found:
        return None
    try:
        naive = datetime.fromisoformat(found.group(1))
    except ValueError as exc:
        raise UnsupportedSchedule(f"{expression}: {exc}") from exc
    return naive.replace(tzinfo=_zone(tz_name))


def next_fire(expression: str, tz_name: str | None, after: datetime) -> datetime:
    """The next time strictly after `after` (aware) that the expression fires (ScheduleDone for an `at()`
    whose instant is not after `after`: it has fired, or was due before the scheduler saw it)."""
    expression = expression.strip()
    once = parse_at(expression, tz_name)
    if once is not None:
        if once <= after:
            raise ScheduleDone(expression)
        return once
    rate = _RATE.match(expression)
    if rate:
        n = int(rate.group(1))
        if n < 1:
            raise UnsupportedSchedule(f"{expression}: the rate must be at least 1")
        unit = rate.group(2)
        step = timedelta(minutes=n) if unit.startswith("minute") else \
            timedelta(hours=n) if unit.startswith("hour") else timedelta(days=n)
        return after + step
    cron = _CRON.match(expression)
    if cron:
        zone = _zone(tz_name)
        local = after.astimezone(zone)
        return Cron.parse(cron.group(1)).next_after(local)
    raise UnsupportedSchedule(f"{expression!r} is not an EventBridge Scheduler expression (at(), rate() or cron())")


def validate(expression: str, tz_name: str | None = None) -> None:
    """Raise UnsupportedSchedule if the expression is malformed or can never fire."""
    try:
        next_fire(expression, tz_name, datetime(1970, 1, 1, tzinfo=UTC))
    except ScheduleDone:
        pass
