"""The on-call allowance report from the database: the shifts each schedule of a pool really had
(overrides and claimed slots included, so whoever held a shift is paid for it), at the pool's
daily rates, with its country's public holidays (allowances.py has the rule)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..access import require_manager
from ..db import is_id
from ..errors import ActionError
from ..models import Pool, User
from . import rotations as pure
from .allowances import AllowanceRow, Rates, allowance_report, to_csv
from .coverage import public_holidays, wall_to_utc, zone
from .rosters import load

MAX_DAYS = 366


def rates_of(pool: Pool) -> Rates:
    cents = Decimal("0.01")
    return Rates(pool.allowance_weekday_cents * cents, pool.allowance_weekend_cents * cents,
                 pool.allowance_holiday_cents * cents, pool.allowance_currency)


def _cents(value: Any, what: str) -> int:
    try:
        amount = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation:
        raise ActionError(f"the {what} rate must be an amount like 25.50", 400) from None
    if not amount.is_finite() or amount < 0 or amount > 100_000 or amount != amount.quantize(Decimal("0.01")):
        raise ActionError(f"the {what} rate must be an amount like 25.50 (at most 2 decimals)", 400)
    return int(amount * 100)


def set_rates(session: Session, actor: User, pool_id: int, *, weekday: Any, weekend: Any, holiday: Any,
              currency: Any, country: Any) -> Pool:
    require_manager(actor)
    pool = session.get(Pool, pool_id) if is_id(pool_id) else None
    if pool is None:
        raise ActionError("pool not found", 404)
    currency = str(currency or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ActionError("the currency is a 3-letter code such as EUR", 400)
    country = str(country or "").strip().upper() or None
    if country is not None:
        try:
            public_holidays(country, 2026)
        except ValueError:
            raise ActionError(f"no public holiday calendar for {country!r} (use a code like FR)", 400) from None
    pool.allowance_weekday_cents = _cents(weekday, "weekday")
    pool.allowance_weekend_cents = _cents(weekend, "weekend")
    pool.allowance_holiday_cents = _cents(holiday, "holiday")
    pool.allowance_currency, pool.holiday_country = currency, country
    session.flush()
    return pool


@dataclass(frozen=True)
class Report:
    pool: Pool
    first: date
    last: date
    rates: Rates
    rows: list[tuple[str, AllowanceRow]]  # (engineer's name, row), by name

    @property
    def total(self) -> Decimal:
        return sum((r.amount for _, r in self.rows), Decimal(0))

    def csv(self) -> str:
        return to_csv([r for _, r in self.rows], {r.user_id: name for name, r in self.rows})


def period(first: Any, last: Any) -> tuple[date, date]:
    try:
        a, b = date.fromisoformat(str(first)), date.fromisoformat(str(last))
    except ValueError:
        raise ActionError("from and to are dates (YYYY-MM-DD)", 400) from None
    if b < a:
        raise ActionError("the period ends before it starts", 400)
    if (b - a).days + 1 > MAX_DAYS:
        raise ActionError(f"a report covers at most {MAX_DAYS} days", 400)
    return a, b


def build(session: Session, actor: User, pool_id: int, first: date, last: date) -> Report:
    require_manager(actor)
    pool = session.get(Pool, pool_id) if is_id(pool_id) else None
    if pool is None:
        raise ActionError("pool not found", 404)
    rates = rates_of(pool)
    lo = datetime.combine(first - timedelta(days=2), datetime.min.time()).replace(tzinfo=zone("UTC"))
    hi = datetime.combine(last + timedelta(days=3), datetime.min.time()).replace(tzinfo=zone("UTC"))
    by_zone: dict[str, list[pure.Shift]] = defaultdict(list)
    for roster in load(session, lo, hi, pool_ids=[pool.id]):
        # Days are counted in the schedule's own zone: a night is one night wherever it is read.
        tz = zone(roster.tz)
        by_zone[roster.tz] += pure.shifts(roster.plan, wall_to_utc(first, 0, tz), wall_to_utc(last, 1440, tz))
    rows: list[AllowanceRow] = []
    for tz_name, held in by_zone.items():
        rows += allowance_report(held, first, last, tz_name, rates, pool.holiday_country)
    merged = _merge(rows)
    names = {r.id: r.name for r in session.execute(select(User.id, User.name).where(User.id.in_(merged)))}
    out = sorted(((names.get(uid, f"user #{uid}"), row) for uid, row in merged.items()), key=lambda nr: nr[0])
    return Report(pool, first, last, rates, out)


def _merge(rows: list[AllowanceRow]) -> dict[int, AllowanceRow]:
    """One row per person when the pool's schedules live in several zones (rare)."""
    out: dict[int, AllowanceRow] = {}
    for r in rows:
        prev = out.get(r.user_id)
        out[r.user_id] = r if prev is None else AllowanceRow(
            r.user_id, prev.weekday_days + r.weekday_days, prev.weekend_days + r.weekend_days,
            prev.holiday_days + r.holiday_days, prev.amount + r.amount, r.currency)
    return out
