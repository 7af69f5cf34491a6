"""Office hours of the staff teams, written the way a city publishes them: "Mo-Fr 08:00-18:00; Sa 09:00-12:00".

Why our own small parser: the format must be readable by the city's staff in a YAML file, and the
only questions we ask are "is someone supposed to be there now?" and "when next?" — the honest
answer a citizen gets outside office hours.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from wording import texts

DAYS = ["mo", "di", "mi", "do", "fr", "sa", "so"]
_PART = re.compile(r"^\s*(?P<days>[A-Za-z]{2}(?:\s*-\s*[A-Za-z]{2})?(?:\s*,\s*[A-Za-z]{2})*)\s+"
                   r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")  # fmt: skip


class OfficeHoursError(ValueError):
    pass


def _time(value: str) -> dt.time:
    hours, minutes = (int(x) for x in value.split(":"))
    if hours == 24 and minutes == 0:
        return dt.time(23, 59, 59)
    return dt.time(hours, minutes)


def _days(spec: str) -> list[int]:
    result: list[int] = []
    for chunk in spec.lower().replace(" ", "").split(","):
        first, _, last = chunk.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise OfficeHoursError(f"unknown weekday in {spec!r} (use Mo, Di, Mi, Do, Fr, Sa, So)")
        start, end = DAYS.index(first), DAYS.index(last or first)
        result.extend(range(start, end + 1))
    return result


@dataclass(frozen=True)
class OfficeHours:
    """Weekly opening windows plus closed dates (public holidays) in one time zone."""

    windows: dict[int, list[tuple[dt.time, dt.time]]]
    timezone: str = "Europe/Berlin"
    closed_dates: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def parse(cls, spec: str, timezone: str = "Europe/Berlin", closed_dates: list[str] | None = None) -> OfficeHours:
        windows: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for part in filter(None, (p.strip() for p in spec.split(";"))):
            match = _PART.match(part)
            if not match:
                raise OfficeHoursError(f"cannot read office hours {part!r}; example: 'Mo-Fr 08:00-18:00'")
            start, end = _time(match["start"]), _time(match["end"])
            if end <= start:
                raise OfficeHoursError(f"closing time before opening time in {part!r}")
            for day in _days(match["days"]):
                windows.setdefault(day, []).append((start, end))
        ZoneInfo(timezone)  # fail early on a typo
        dates = frozenset(dt.date.fromisoformat(d) for d in closed_dates or [])
        return cls(windows=windows, timezone=timezone, closed_dates=dates)

    def _local(self, when: dt.datetime | None) -> dt.datetime:
        zone = ZoneInfo(self.timezone)
        return (when or dt.datetime.now(zone)).astimezone(zone)

    def is_open(self, when: dt.datetime | None = None) -> bool:
        local = self._local(when)
        if local.date() in self.closed_dates:
            return False
        return any(start <= local.time() < end for start, end in self.windows.get(local.weekday(), []))

    def next_opening(self, when: dt.datetime | None = None) -> dt.datetime | None:
        """The next moment the team opens (None if no window is configured at all)."""
        local = self._local(when)
        for offset in range(0, 15):
            day = local.date() + dt.timedelta(days=offset)
            if day in self.closed_dates:
                continue
            for start, _end in sorted(self.windows.get(day.weekday(), [])):
                candidate = dt.datetime.combine(day, start, tzinfo=local.tzinfo)
                if candidate > local:
                    return candidate
        return None

    def describe(self) -> str:
        """German summary for citizens, e.g. 'Mo–Fr 08:00–18:00 Uhr'."""
        parts: list[str] = []
        by_window: dict[tuple[tuple[dt.time, dt.time], ...], list[int]] = {}
        for day in sorted(self.windows):
            by_window.setdefault(tuple(sorted(self.windows[day])), []).append(day)
        for window, days in by_window.items():
            label = _day_range(days)
            times = ", ".join(f"{a:%H:%M}–{b:%H:%M}" for a, b in window)
            parts.append(texts.service_hours(label, times))
        return "; ".join(parts)


def _day_range(days: list[int]) -> str:
    short = texts.DAY_ABBREVIATIONS_DE
    if len(days) > 1 and days == list(range(days[0], days[-1] + 1)):
        return f"{short[days[0]]}–{short[days[-1]]}"
    return ", ".join(short[d] for d in days)


def describe_next(opening: dt.datetime | None, now: dt.datetime | None = None) -> str:
    """'heute um 08:00 Uhr', 'morgen um 08:00 Uhr' or 'am Montag um 08:00 Uhr'."""
    if opening is None:
        return texts.NEXT_SERVICE_HOURS_DE
    today = (now or dt.datetime.now(opening.tzinfo)).astimezone(opening.tzinfo).date()
    if opening.date() == today:
        return texts.opening_today(f"{opening:%H:%M}")
    if opening.date() == today + dt.timedelta(days=1):
        return texts.opening_tomorrow(f"{opening:%H:%M}")
    return texts.opening_on(opening.weekday(), f"{opening:%H:%M}")
