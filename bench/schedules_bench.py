"""Benchmark (not a test): "who is on call now" for 50 schedules, and a year's allowance report.

Run: .venv/bin/python bench/schedules_bench.py [--db postgresql://...]

Builds 50 schedules (2 layers each, 4-8 people drawn from a pool of 30 engineers, ~20
overrides each, mixed coverage kinds), then prints one line per measurement:

    oncall_now_50_schedules_ms p50=... p95=...      (oncall_at for all 50 schedules, 100 runs)
    oncall_now_50_schedules_cold_ms ...             (same with the wall-clock memo cleared)
    shifts_year_50_schedules_ms ...                 (computing a year of shifts, done once first)
    allowance_year_30_engineers_ms p50=...          (allowance_report over those shifts, 20 runs)
    oncall_now_50_schedules_db_ms ...               (the same schedules stored in the database:
                                                     rosters.load + oncall_at, 50 runs)
    oncall_api_50_schedules_db_ms ...               (what GET /api/v1/oncall computes: holders with
                                                     their shifts' edges, per schedule and client)
    layer_oncall_db_ms ...                          (one escalation step's layer lookup)
    allowance_year_30_engineers_db_ms ...           (the report page: a year of the pool's shifts
                                                     loaded and paid, 5 runs)

The database lines use a fresh SQLite file, or the PostgreSQL database given with --db (its
public schema is dropped and recreated).

Rotation lengths are a mix of weekly, daily and 12-hour, so the year has ~49k shifts: a stress
load (about 4.5 shifts per engineer per day); the report's cost is linear in the shift count.

Then the same year's report for the pool the product is built for (`pool_*` lines): 30
engineers sharing one pool on weekly rotations - a dual on-call schedule (primary and secondary
layers, 24/7), an after-hours schedule (French holidays) and a 07:00-22:00 window schedule, with
60 overrides over the year - pure, and from the database.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.schedules.allowances import Rates, allowance_report  # noqa: E402
from app.schedules.coverage import Coverage, local_to_utc  # noqa: E402
from app.schedules.rotations import (  # noqa: E402
    Layer,
    Override,
    Rotation,
    Schedule,
    Shift,
    oncall_at,
    shifts,
)

ENGINEERS = list(range(1, 31))
TZ = "Europe/Paris"
COVERAGES = [
    None,
    Coverage.from_dict({"kind": "always", "tz": TZ}),
    Coverage.from_dict({"kind": "after_hours", "holidays": "FR", "tz": TZ}),
    Coverage.from_dict({"kind": "window", "start": "07:00", "end": "22:00", "tz": TZ}),
]


def build_schedules(rng: random.Random, n: int = 50) -> list[Schedule]:
    anchor = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    out = []
    for sid in range(1, n + 1):
        layers = []
        for j in range(2):
            people = tuple(rng.sample(ENGINEERS, rng.randint(4, 8)))
            length = rng.choice(["weekly", "daily", timedelta(hours=12)])
            start = anchor + timedelta(days=rng.randint(-30, 30), hours=rng.randint(0, 23))
            layers.append(
                Layer(
                    sid * 10 + j,
                    "primary" if j == 0 else "secondary",
                    Rotation(people, start, length, TZ),
                )
            )
        overrides = []
        for k in range(20):
            o_start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=rng.randint(0, 365 * 24))
            overrides.append(
                Override(
                    sid * 100 + k,
                    rng.choice(layers).id,
                    o_start,
                    o_start + timedelta(hours=rng.randint(1, 72)),
                    rng.choice([*ENGINEERS, None]),
                )
            )
        out.append(
            Schedule(sid, f"client {sid}", TZ, tuple(layers), COVERAGES[sid % 4], tuple(overrides))
        )
    return out


def build_pool(rng: random.Random) -> list[Schedule]:
    """The shared pool of the product: weekly rotations of the same 30 engineers."""
    anchor = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday, 09:00 in Paris
    kinds = [("dual 24/7", COVERAGES[1], 2), ("after hours", COVERAGES[2], 1), ("07-22", COVERAGES[3], 1)]
    out = []
    for sid, (name, coverage, n_layers) in enumerate(kinds, start=1):
        layers = []
        for j in range(n_layers):
            people = tuple(ENGINEERS[(sid * 7 + j * 15 + k) % 30] for k in range(30))
            layers.append(Layer(sid * 10 + j, "primary" if j == 0 else "secondary", Rotation(people, anchor, "weekly", TZ)))
        overrides = []
        for k in range(20):
            o_start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=rng.randint(0, 365 * 24))
            overrides.append(Override(sid * 100 + k, rng.choice(layers).id, o_start,
                                      o_start + timedelta(hours=rng.randint(8, 72)), rng.choice(ENGINEERS)))
        out.append(Schedule(sid, f"Pool A {name}", TZ, tuple(layers), coverage, tuple(overrides)))
    return out


def timed_ms(fn: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return samples


def report(name: str, samples: list[float]) -> None:
    samples = sorted(samples)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(f"{name} p50={statistics.median(samples):.3f} p95={p95:.3f} runs={len(samples)}")


def main() -> None:
    rng = random.Random(42)
    schedules = build_schedules(rng)
    now = datetime(2026, 6, 17, 21, 30, tzinfo=UTC)
    tick = iter(range(10**9))

    def oncall_now() -> None:  # successive instants, like a dashboard polling "now"
        t = now + timedelta(seconds=37 * next(tick))
        for s in schedules:
            oncall_at(s, t)

    def oncall_cold() -> None:  # nothing memoised: the worst case, e.g. right after a restart
        local_to_utc.cache_clear()
        oncall_now()

    oncall_now()  # warm zone lookups and holiday tables, as any running server would have
    report("oncall_now_50_schedules_ms", timed_ms(oncall_now, 100))
    report("oncall_now_50_schedules_cold_ms", timed_ms(oncall_cold, 100))

    year_start, year_end = datetime(2025, 12, 31, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC)
    year: list[Shift] = []
    t0 = time.perf_counter()
    for s in schedules:
        year.extend(shifts(s, year_start, year_end))
    print(
        f"shifts_year_50_schedules_ms once={(time.perf_counter() - t0) * 1000:.3f} shifts={len(year)}"
    )

    rates = Rates(Decimal("20"), Decimal("40"), Decimal("60"))
    rows = allowance_report(year, date(2026, 1, 1), date(2026, 12, 31), TZ, rates)

    def allowance_year() -> None:
        allowance_report(year, date(2026, 1, 1), date(2026, 12, 31), TZ, rates)

    samples = timed_ms(allowance_year, 20)
    report("allowance_year_30_engineers_ms", samples)
    print(f"allowance_year_us_per_shift={statistics.median(samples) * 1000 / len(year):.2f}")
    total = sum((r.amount for r in rows), Decimal(0))
    print(f"allowance_year_rows={len(rows)} total_amount={total} EUR")

    pool = build_pool(random.Random(7))

    def pool_year() -> None:
        held: list[Shift] = []
        for s in pool:
            held.extend(shifts(s, year_start, year_end))
        allowance_report(held, date(2026, 1, 1), date(2026, 12, 31), TZ, rates)

    pool_shifts = sum(len(shifts(s, year_start, year_end)) for s in pool)
    report(f"pool_allowance_year_30_engineers_ms shifts={pool_shifts} (shifts computed + report)",
           timed_ms(pool_year, 20))


def bench_db(schedules: list[Schedule], url: str | None, *, only_report: str | None = None) -> None:
    """The same schedules stored as rows, read back the way the app reads them."""
    import tempfile

    from _support import reset_postgres

    from app.db import Database
    from app.migrate import upgrade
    from app.schedules.allowance_report import build
    from app.schedules.rosters import layer_oncall, load
    from app.schedules.whos_on import oncall

    with tempfile.TemporaryDirectory() as tmp:
        if url:
            reset_postgres(url)
        db = Database(url or f"sqlite:///{tmp}/bench.db")
        upgrade(db)
        manager = store(db, schedules)
        now = datetime(2026, 6, 17, 21, 30, tzinfo=UTC)
        tick = iter(range(10**9))
        backend = "postgresql" if db.is_postgres else "sqlite"
        with db.Session() as s:
            from app.models import User

            boss = s.get(User, manager)

            def who_now() -> None:
                t = now + timedelta(seconds=37 * next(tick))
                for r in load(s, t, t + timedelta(microseconds=1)):
                    oncall_at(r.plan, t)

            def api() -> None:
                oncall(s, boss, now + timedelta(seconds=37 * next(tick)))

            def one_layer() -> None:
                layer_oncall(s, 11, now + timedelta(seconds=37 * next(tick)))

            def year() -> None:
                build(s, boss, 1, date(2026, 1, 1), date(2026, 12, 31))

            if only_report:
                year()
                report(f"{only_report} backend={backend}", timed_ms(year, 20))
                db.dispose()
                return
            who_now()
            report(f"oncall_now_50_schedules_db_ms backend={backend}", timed_ms(who_now, 50))
            report(f"oncall_api_50_schedules_db_ms backend={backend}", timed_ms(api, 20))
            report(f"layer_oncall_db_ms backend={backend}", timed_ms(one_layer, 200))
            report(f"allowance_year_30_engineers_db_ms backend={backend}", timed_ms(year, 5))
        db.dispose()


def store(db: object, schedules: list[Schedule]) -> int:
    """Insert the pool, 30 engineers, a manager and the schedules (one rotation version per
    layer, from the layer's rotation start); the manager's id."""
    from app.models import (
        LayerRotation,
        Pool,
        PoolMember,
        RotationMember,
        ScheduleLayer,
        ScheduleOverride,
        User,
    )
    from app.models import Schedule as Row

    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    with db.transaction() as s:  # type: ignore[attr-defined]
        pool = Pool(name="Pool A", created_at=t0, allowance_weekday_cents=2000, allowance_weekend_cents=4000,
                    allowance_holiday_cents=6000)
        s.add(pool)
        s.flush()
        for uid in ENGINEERS:
            s.add(User(id=uid, email=f"e{uid}@bench", name=f"Engineer {uid}", role="engineer", created_at=t0))
            s.add(PoolMember(pool_id=pool.id, user_id=uid))
        boss = User(id=100, email="boss@bench", name="Boss", role="manager", created_at=t0)
        s.add(boss)
        s.flush()
        for sch in schedules:
            row = Row(id=sch.id, name=sch.name, pool_id=pool.id, timezone=TZ,
                      coverage=sch.coverage.to_dict() if sch.coverage else None, created_at=t0)
            s.add(row)
            for i, layer in enumerate(sch.layers):
                rot = layer.rotation
                kind = rot.length if isinstance(rot.length, str) else "custom"
                hours = None if isinstance(rot.length, str) else int(rot.length.total_seconds() // 3600)
                version = LayerRotation(effective_from=t0, start=rot.start, length=kind, length_hours=hours,
                                        timezone=rot.tz, created_at=t0)
                version.members = [RotationMember(position=k, user_id=u) for k, u in enumerate(rot.participants)]
                s.add(ScheduleLayer(id=layer.id, schedule_id=sch.id, position=i, name=layer.name, created_at=t0,
                                    rotations=[version]))
            s.flush()
            for o in sch.overrides:
                s.add(ScheduleOverride(id=o.id, layer_id=o.layer_id, starts_at=o.start, ends_at=o.end,
                                       user_id=o.user_id, created_at=t0))
        return boss.id


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None, help="a PostgreSQL URL (default: a fresh SQLite file)")
    args = ap.parse_args()
    main()
    bench_db(build_schedules(random.Random(42)), args.db)
    bench_db(build_pool(random.Random(7)), args.db, only_report="pool_allowance_year_30_engineers_db_ms")
