"""Every time a person sees, in their own zone and their locale's format.

One place formats instants for people: the `when` Jinja filter (server-rendered pages) and, for
what the pages draw themselves, static/js/time.js with Intl.DateTimeFormat and the same zone.
The zone is the user's (users.timezone; while `timezone_auto` is set it follows the browser,
which reports its zone once per change). The locale is the browser's (Accept-Language), so the
server and Intl agree on 12- or 24-hour clocks. The zone is named (CET, CEST, GMT+1…) where a
time could be read in the wrong one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton
from markupsafe import Markup, escape

DEFAULT_LOCALE = "en_GB"
KINDS = ("datetime", "time", "timesec", "date", "day", "full")


class ZoneError(ValueError):
    pass


@lru_cache(maxsize=256)
def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def check_zone(name: str) -> str:
    """An IANA zone name as typed or sent by a browser, or ZoneError."""
    name = (name or "").strip()
    if name not in zone_names():
        raise ZoneError(f"unknown time zone {name!r}: choose one from the list (e.g. Europe/Paris)")
    return name


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    names = {n for n in available_timezones() if "/" in n and not n.startswith(("Etc/", "SystemV/", "posix/", "right/"))}
    return tuple(sorted(names | {"UTC"}))


@lru_cache(maxsize=64)
def locale(tag: str | None) -> Locale:
    """A Babel locale for a browser's language tag ("fr-FR", "en-US", "de"); the default when
    it is unknown."""
    if tag:
        try:
            return Locale.parse(tag.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            pass
    return Locale.parse(DEFAULT_LOCALE)


def _clock(loc: Locale, seconds: bool = False) -> str:
    """The locale's own clock: 'Hm' (24 hours) or 'hm' (12 hours with AM/PM)."""
    h = "H" if "H" in loc.time_formats["short"].pattern else "h"
    return f"{h}m{'s' if seconds else ''}"


def zone_label(t: datetime, tz: ZoneInfo) -> str:
    """The short name of the zone at that instant: CET or CEST for Paris, GMT+3 where the zone
    has no abbreviation."""
    name = t.astimezone(tz).tzname() or tz.key
    if name[:1] in "+-":
        offset = t.astimezone(tz).utcoffset() or timedelta(0)
        minutes = int(offset.total_seconds() // 60)
        sign = "+" if minutes >= 0 else "-"
        h, m = divmod(abs(minutes), 60)
        name = f"GMT{sign}{h}" + (f":{m:02d}" if m else "")
    return name


def format_instant(t: datetime, kind: str = "datetime", *, tz: ZoneInfo | str | None = None,
                   loc: Locale | str | None = None, name_zone: bool = False) -> str:
    """An instant as a person reads it, on their clock."""
    tz = tz if isinstance(tz, ZoneInfo) else zone(tz)
    loc = loc if isinstance(loc, Locale) else locale(loc)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    local = t.astimezone(tz)
    if kind == "time":
        text = format_skeleton(_clock(loc), local, locale=loc)
    elif kind == "timesec":
        text = format_skeleton(_clock(loc, seconds=True), local, locale=loc)
    elif kind == "date":
        text = format_skeleton("yMMMd", local, locale=loc)
    elif kind == "day":
        text = format_skeleton("MMMEd", local, locale=loc)
    elif kind == "full":
        text = loc.datetime_formats["short"].format(format_skeleton(_clock(loc), local, locale=loc),
                                                      format_skeleton("yMMMEd", local, locale=loc))
    else:
        text = loc.datetime_formats["short"].format(format_skeleton(_clock(loc), local, locale=loc),
                                                      format_skeleton("MMMEd", local, locale=loc))
    if name_zone and kind not in ("date", "day"):
        text = f"{text} {zone_label(t, tz)}"
    return text


def format_day(d: date, *, loc: Locale | str | None = None, with_year: bool = False) -> str:
    loc = loc if isinstance(loc, Locale) else locale(loc)
    return format_skeleton("yMMMEd" if with_year else "MMMEd", d, locale=loc)


def time_element(t: datetime | str | None, kind: str = "datetime", *, tz: ZoneInfo | str | None,
                 loc: Locale | str | None, name_zone: bool = False) -> Markup:
    """<time datetime="…" data-t="kind">text</time>: the page's script re-draws it with Intl in
    the same zone (and the browser's, while the user has not chosen one)."""
    if t is None or t == "":
        return Markup("")
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    kind = kind if kind in KINDS else "datetime"
    zone_attr = ' data-zone="1"' if name_zone else ""
    text = format_instant(t, kind, tz=tz, loc=loc, name_zone=name_zone)
    return Markup(f'<time datetime="{escape(t.astimezone(UTC).isoformat())}" data-t="{kind}"{zone_attr}>{escape(text)}</time>')


def countdown(deadline: datetime, now: datetime) -> str:
    """'42 min left', '1 h 05 min left', 'overdue by 3 min': the same words as time.js."""
    seconds = int((deadline - now).total_seconds())
    late = seconds < 0
    minutes = (abs(seconds) + (0 if late else 59)) // 60
    h, m = divmod(minutes, 60)
    span = f"{h} h {m:02d} min" if h else f"{m} min"
    return f"overdue by {span}" if late else f"{span} left"
