"""The SQL pieces every report shares: an incident's derived times as column expressions (the
same on SQLite and PostgreSQL), percentiles, and the period and visibility filters.

How an incident counts (hand-computed tests: tests/test_response_figures_are_exact.py):
- Its response clock starts when it was created, or when coverage started for an alert held
  outside the client's coverage hours (`held_until`): time held is not counted against anyone.
- Time to acknowledge runs to its first human response (`responded_at`: an acknowledgement on
  any channel, a claim, a hand-over or a resolution). A reopened incident keeps its first
  response: reopening is counted apart (a timeline entry of kind "reopened").
- Acknowledged at exactly 30:00 is within 30 minutes (<=).
- SLA kept: responded by the response deadline; missed: responded after it, or never responded
  and the deadline passed while it was open (or the engine wrote the breach). Neither while
  still running, nor for an alert that resolved itself before its deadline without anyone.
All instants are UTC, so a daylight-saving change in between changes no duration.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Integer, String, and_, case, cast, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from ..models import Incident, TimelineEntry

THRESHOLDS = (15, 30, 45, 60)  # minutes: "acknowledged within"


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def quarter_hour(d: str, t: Any) -> ColumnElement[Any]:
    """The UTC quarter hour a time falls in, for a GROUP BY (PostgreSQL: its start; SQLite: text
    "YYYY-MM-DD HH:Q", Q the quarter, 0 to 3; quarter_start reads either). Every zone's offset is
    a whole number of quarter hours (India's 5:30, Nepal's 5:45), so each quarter lands whole in
    one hour of anyone's clock, where a UTC hour would put a page at 10:40 UTC in India's 15:00
    hour (it is 16:10 there)."""
    if d == "postgresql":
        # date_trunc and arithmetic on the time: text (to_char) made the load report 1.6 times slower
        return func.date_trunc("hour", t) + func.make_interval(
            0, 0, 0, 0, 0, cast(func.extract("minute", t), Integer) // 15 * 15)
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff"; its minutes' text divides as a number
    return func.substr(t, 1, 14, type_=String) + func.substr(t, 15, 2).op("/")(15)


def quarter_start(key: Any) -> datetime:
    """The UTC time a quarter_hour() key stands for."""
    if isinstance(key, datetime):  # PostgreSQL's, naive UTC
        return key.replace(tzinfo=UTC)
    # fromisoformat: strptime takes 10 µs each, for up to 35,000 a year
    return datetime.fromisoformat(key[:13]).replace(minute=15 * int(key[14:]), tzinfo=UTC)


def seconds_between(d: str, later: Any, earlier: Any) -> ColumnElement[Any]:
    """later - earlier in seconds (a float, to the millisecond)."""
    if d == "postgresql":
        return func.extract("epoch", later - earlier)
    # SQLite keeps "YYYY-MM-DD HH:MM:SS.ffffff" text; julianday is a double of days, exact to a
    # few microseconds in this century, so round to the millisecond ("exactly 30:00" stays 1800).
    return func.round((func.julianday(later) - func.julianday(earlier)) * 86400.0, 3)


def clock_start() -> ColumnElement[Any]:
    """When the response clock started: creation, or the end of a hold outside coverage hours."""
    return case((Incident.held_until > Incident.created_at, Incident.held_until), else_=Incident.created_at)


def _greatest(d: str, *args: Any) -> ColumnElement[Any]:
    # SQLite's max() of several arguments is its GREATEST (NULL if any is NULL); its timestamps
    # are ISO text of one width, so they compare in time order.
    return func.greatest(*args) if d == "postgresql" else func.max(*args)


def _since_start(d: str, t: Any) -> ColumnElement[Any]:
    """Seconds from the clock start to `t`, 0 if before it, NULL if `t` is: one expression of
    two date reads per row, as the figures read it for every incident."""
    start = _greatest(d, Incident.created_at, func.coalesce(Incident.held_until, Incident.created_at))
    since = _greatest(d, literal(0.0), seconds_between(d, t, start))
    # PostgreSQL's GREATEST skips NULLs (GREATEST(0, NULL) is 0): never answered must stay NULL.
    return case((t.is_(None), None), else_=since) if d == "postgresql" else since


def ack_seconds(d: str) -> ColumnElement[Any]:
    return _since_start(d, Incident.responded_at)


def resolve_seconds(d: str) -> ColumnElement[Any]:
    return _since_start(d, Incident.resolved_at)


def sla_kept() -> ColumnElement[bool]:
    return and_(Incident.responded_at.is_not(None), Incident.responded_at <= Incident.response_deadline)


def sla_missed(now: datetime) -> ColumnElement[bool]:
    """Answered late, or never answered while the deadline passed with it open (one that
    resolved itself before its deadline missed nothing: it is neither kept nor missed)."""
    return or_(
        and_(Incident.responded_at.is_not(None), Incident.responded_at > Incident.response_deadline),
        and_(Incident.responded_at.is_(None),
             or_(Incident.sla_breached_at.is_not(None),
                 and_(Incident.response_deadline < now,
                      or_(Incident.resolved_at.is_(None), Incident.resolved_at > Incident.response_deadline)))),
    )


def responder() -> ColumnElement[Any]:
    """Who responded: whoever acknowledged, else slot #1's holder, else whoever resolved."""
    return func.coalesce(Incident.acknowledged_by_id, Incident.slot1_user_id, Incident.resolved_by_id)


def with_timeline(kind: str) -> ColumnElement[bool]:
    """The incident has a timeline entry of this kind ("coverage": it came outside coverage
    hours, held or paged at low urgency; "reopened")."""
    return Incident.id.in_(select(TimelineEntry.incident_id).where(TimelineEntry.kind == kind))


def count_if(cond: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((cond, 1), else_=0))


def restrict(q: Select[Any], start: datetime | None, end: datetime | None,
             visible: set[int] | None, client_id: int | None = None, *, scan: bool = False) -> Select[Any]:
    """Incidents created in [start, end) that the reader may see (None: all clients). `scan`
    (see reads_most): compare the creation time without its index, so SQLite reads the table
    through instead of looking up every row the index finds."""
    created = literal_column("+incidents.created_at", Incident.created_at.type) if scan else Incident.created_at
    if start is not None:
        q = q.where(created >= start)
    if end is not None:
        q = q.where(created < end)
    if visible is not None:
        q = q.where(Incident.client_id.in_(sorted(visible)) if visible else literal(False))
    if client_id is not None:
        q = q.where(Incident.client_id == client_id)
    return q


def reads_most(session: Session, start: datetime | None, end: datetime | None) -> bool:
    """On SQLite, whether the period holds most incidents (over a quarter): then one pass over the
    table beats the created_at index, each of whose hits costs a lookup of its row (a year of
    100,000 incidents: 174 ms through the index, 21 ms through the table, for one figure). Two
    index-only counts decide it; PostgreSQL's planner chooses for itself."""
    if dialect(session) != "sqlite" or (start is None and end is None):
        return False  # PostgreSQL chooses for itself; without a period there is nothing to compare
    total = session.scalar(select(func.count()).select_from(Incident)) or 0
    inside = session.scalar(restrict(select(func.count()).select_from(Incident), start, end, None)) or 0
    return inside * 4 > total


def percentile_columns(session: Session, base: Any, value: str, ps: Sequence[float]) -> tuple[Any, list[Any]]:
    """Percentiles of `value` per `grp` of the CTE `base`, by linear interpolation between
    closest ranks (PostgreSQL's percentile_cont), to join to an aggregate of the same CTE in one
    statement: (a subquery with grp and p0, p1..., or None on PostgreSQL, and the columns). On
    PostgreSQL percentile_cont is an aggregate itself: the columns go beside the others; on
    SQLite the same value comes from an ordered window."""
    col = base.c[value]
    if dialect(session) == "postgresql":
        return None, [func.percentile_cont(p).within_group(col) for p in ps]
    ranked = (select(base.c.grp, col.label("v"),
                     (func.row_number().over(partition_by=base.c.grp, order_by=col) - 1).label("i"),
                     # (not framed over the ordered window: SQLite recounts such a frame per row)
                     func.count().over(partition_by=base.c.grp).label("n"))
              .where(col.is_not(None)).subquery())
    cols = []
    for k, p in enumerate(ps):
        h = (ranked.c.n - 1) * p
        lo = cast(h, Integer)  # CAST truncates: the floor of a non-negative number
        frac = h - lo
        cols.append(func.sum(case((ranked.c.i == lo, ranked.c.v * (1 - frac)),
                                  (ranked.c.i == lo + 1, ranked.c.v * frac), else_=0.0)).label(f"p{k}"))
    sub = select(ranked.c.grp, *cols).group_by(ranked.c.grp).subquery()
    return sub, [sub.c[f"p{k}"] for k in range(len(ps))]
