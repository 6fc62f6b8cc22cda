"""Charts drawn on the server as SVG (no chart library, no CDN: Vigil works with no internet):
the acknowledgement-time distribution, SLA kept per month, incidents per hour of day and per day
of week, load per engineer. Each chart has a <title> and <desc> and comes with the table of its
numbers (the text alternative); it scales to the width of a phone and follows the colour scheme
(classes styled by static/css/reports.css in a page; its own <style> when served alone).

The data is SQL aggregation: by bucket of acknowledgement time, and by UTC quarter hour, which
is then placed on the reader's clock (at most 35,000 quarters a year, whatever the number of
incidents; every zone is a whole number of quarter hours off UTC, so each quarter falls whole in
one hour of the reader's day, in India and Nepal too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, literal, select
from sqlalchemy.orm import Session

from ..models import Incident
from . import sql

ACK_BUCKETS = ((5, "0–5 min"), (10, "5–10"), (15, "10–15"), (30, "15–30"), (45, "30–45"), (60, "45–60"),
               (120, "1–2 h"), (240, "2–4 h"), (None, "over 4 h"))
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass
class Chart:
    name: str
    title: str
    desc: str
    labels: list[str]
    series: list[tuple[str, list[float]]]  # (name, one value per label); stacked when several
    unit: str = "incidents"
    axis: str = ""  # what the labels are (the first column of its table)

    def table(self) -> list[list[Any]]:
        return [[label, *[values[i] for _, values in self.series]] for i, label in enumerate(self.labels)]

    def header(self) -> list[str]:
        """The columns of table() (its CSV's first line)."""
        return [self.axis, *[name for name, _ in self.series]]

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "desc": self.desc, "unit": self.unit, "axis": self.axis,
                "labels": self.labels, "series": [{"name": n, "values": v} for n, v in self.series]}


def by_hour(session: Session, start: datetime | None, end: datetime | None, now: datetime,
            visible: set[int] | None, client_id: int | None = None) -> list[tuple[datetime, int, int, int]]:
    """(UTC quarter hour, incidents, SLA kept, SLA missed) per quarter hour with incidents."""
    key = sql.quarter_hour(sql.dialect(session), Incident.created_at).label("h")
    q = select(key, func.count(), sql.count_if(sql.sla_kept()), sql.count_if(sql.sla_missed(now))).group_by(key)
    return [(sql.quarter_start(h), int(n), int(kept or 0), int(missed or 0))
            for h, n, kept, missed in session.execute(sql.restrict(q, start, end, visible, client_id))]


def ack_distribution(session: Session, start: datetime | None, end: datetime | None,
                     visible: set[int] | None, client_id: int | None = None) -> Chart:
    ack = sql.ack_seconds(sql.dialect(session))
    whens = [(ack.is_(None), literal(-1))]
    whens += [(ack <= m * 60, literal(i)) for i, (m, _) in enumerate(ACK_BUCKETS) if m is not None]
    bucket = case(*whens, else_=literal(len(ACK_BUCKETS) - 1)).label("b")
    q = sql.restrict(select(bucket, func.count()).group_by(bucket), start, end, visible, client_id)
    counts = dict(session.execute(q).all())
    labels = [label for _, label in ACK_BUCKETS] + ["never"]
    values = [float(counts.get(i, 0)) for i in range(len(ACK_BUCKETS))] + [float(counts.get(-1, 0))]
    return Chart("ack", "Time to acknowledge",
                 "How many incidents were acknowledged within each span of time after their response clock "
                 "started (time held outside coverage hours not counted); the last bar is never acknowledged.",
                 labels, [("incidents", values)], axis="time_to_acknowledge")


def sla_per_month(hours: list[tuple[datetime, int, int, int]], tz: ZoneInfo) -> Chart:
    months: dict[str, list[int]] = {}
    for h, _n, kept, missed in hours:
        m = months.setdefault(h.astimezone(tz).strftime("%Y-%m"), [0, 0])
        m[0] += kept
        m[1] += missed
    labels = sorted(months)
    return Chart("sla", "Response deadline kept, per month",
                 f"Incidents answered within the contract's response deadline (kept) and not (missed), per "
                 f"month ({tz.key}).", labels,
                 [("kept", [float(months[m][0]) for m in labels]), ("missed", [float(months[m][1]) for m in labels])],
                 axis="month")


def per_hour_of_day(hours: list[tuple[datetime, int, int, int]], tz: ZoneInfo) -> Chart:
    counts = [0.0] * 24
    for h, n, _k, _m in hours:
        counts[h.astimezone(tz).hour] += n
    return Chart("hours", "Incidents by hour of day",
                 f"How many incidents began in each hour of the day ({tz.key}).",
                 [f"{i:02d}" for i in range(24)], [("incidents", counts)], axis="hour")


def per_day_of_week(hours: list[tuple[datetime, int, int, int]], tz: ZoneInfo) -> Chart:
    counts = [0.0] * 7
    for h, n, _k, _m in hours:
        counts[h.astimezone(tz).weekday()] += n
    return Chart("days", "Incidents by day of week", f"How many incidents began on each day of the week ({tz.key}).",
                 list(DAYS), [("incidents", counts)], axis="day")


def load_chart(rows: Sequence[Any]) -> Chart:
    return Chart("load", "Load per engineer",
                 "Pages each engineer received, split into daytime on weekdays, nights (22:00–07:00 in their "
                 "own zone) and weekends.",
                 [r.name for r in rows],
                 [("day", [float(r.pages - r.night - r.weekend_day) for r in rows]),
                  ("night", [float(r.night) for r in rows]), ("weekend", [float(r.weekend_day) for r in rows])],
                 unit="pages", axis="engineer")


# --- drawing ---------------------------------------------------------------------------------

W, H, LEFT, BOTTOM, TOP = 640, 260, 44, 56, 28
STYLE = """<style>
.axis{stroke:#6b7280;stroke-width:1}.grid{stroke:#6b728055;stroke-width:1}
text{font:12px system-ui,sans-serif;fill:#111827}.s0{fill:#2563eb}.s1{fill:#dc2626}.s2{fill:#d97706}
@media (prefers-color-scheme: dark){text{fill:#e5e7eb}.s0{fill:#60a5fa}.s1{fill:#f87171}.s2{fill:#fbbf24}}
</style>"""


def _nice(top: float) -> float:
    if top <= 0:
        return 1.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000):
        if top <= step * 4:
            return float(step)
    return float(10 ** len(str(int(top))) / 4)


def svg(chart: Chart, *, standalone: bool = False) -> str:
    """The chart as an SVG document (standalone) or an element to put in a page."""
    n = max(1, len(chart.labels))
    totals = [sum(values[i] for _, values in chart.series) for i in range(len(chart.labels))]
    step = _nice(max(totals, default=0))
    top = step * max(1, -(-max(totals, default=0) // step))
    plot_w, plot_h = W - LEFT - 8, H - BOTTOM - TOP
    bar_w = plot_w / n
    cid = f"chart-{chart.name}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" '
        f'class="chart" aria-labelledby="{cid}-t {cid}-d" preserveAspectRatio="xMidYMid meet">',
        f'<title id="{cid}-t">{escape(chart.title)}</title><desc id="{cid}-d">{escape(chart.desc)}</desc>',
    ]
    if standalone:
        parts.append(STYLE)
    for k in range(0, 5):
        y = TOP + plot_h - plot_h * (k * step) / top if top else TOP + plot_h
        if k * step > top:
            break
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{W - 8}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{k * step:g}</text>')
    every = max(1, -(-n // 12))  # at most 12 labels under the bars: readable on a phone
    for i, label in enumerate(chart.labels):
        x = LEFT + i * bar_w
        y = TOP + plot_h
        for s, (name, values) in enumerate(chart.series):
            v = values[i]
            if v <= 0:
                continue
            h = plot_h * v / top
            y -= h
            parts.append(f'<rect class="s{s}" x="{x + bar_w * 0.12:.1f}" y="{y:.1f}" width="{bar_w * 0.76:.1f}" '
                         f'height="{h:.1f}"><title>{escape(label)}: {v:g} {escape(name)}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">'
                         f'{escape(label[:12])}</text>')
    parts.append(f'<line class="axis" x1="{LEFT}" x2="{W - 8}" y1="{TOP + plot_h}" y2="{TOP + plot_h}"/>')
    if len(chart.series) > 1:
        for s, (name, _) in enumerate(chart.series):
            parts.append(f'<rect class="s{s}" x="{LEFT + s * 110}" y="{H - 22}" width="12" height="12"/>'
                         f'<text x="{LEFT + s * 110 + 16}" y="{H - 12}">{escape(name)}</text>')
    parts.append(f'<text x="{LEFT}" y="16">{escape(chart.title)} ({escape(chart.unit)})</text>')
    parts.append("</svg>")
    return "".join(parts)
