"""Escalation timing: how late does a real `vigil engine` process fire steps that fall due, and
page for them?

    python bench/escalation.py                                  # 1,000 steps due over 20 s
    python bench/escalation.py --pattern burst                  # 1,000 steps due at one instant
    python bench/escalation.py --db postgresql://postgres@127.0.0.1:5432/bench --pattern burst

1,000 open incidents get their next step's due time set (spread evenly at random over --spread
seconds, or all at the same instant); one engine process (16 sending threads) is started
before the first falls due. Two figures per step, from its due time:
- to the firing committed: the moment a separate reader, polling the step_firings table every
  5 ms on its own connection, first sees the row (so within ~5 ms of the commit, never before);
  `first_ms` is the first step's (when the engine started firing), p50 and p99 all of them;
- to the first delivery attempt of its page (the attempt's start, on the engine's clock): the
  assignee is reached on the recording channel only, so no network call adds to it. Steps due
  together go out as one page per person and look, listing their incidents (notify/plan.bundle):
  `paged` counts the incidents reached, `pages` the pages that reached them.
And the engine process's CPU per step (fired, paged and recorded), from a second before the first
step falls due until the last page's attempt, less its idle rate (its ticks; measured over the two
seconds before, printed as engine_idle_cpu_ms_per_s) times that time. Steps spread over 20 s
are mostly fired one or two a look, each look's fixed cost paid for them: 2-3 ms a step.
What ran beside: the engine, this script's reader, and PostgreSQL when used, on the same cores.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

from _support import ROOT, CpuMeter, pages_of, percentile, tree, vigil_env
from sqlalchemy import delete, func, select, update

from app import incidents
from app.db import Database
from app.engine.loop import CHUNK, CHUNK_THREADS
from app.incidents import policies
from app.incidents.escalation import TargetSpec
from app.intake.base import IntakeEvent
from app.intake.keys import target_for_service
from app.models import (
    ContactMethod,
    DeliveryAttempt,
    Incident,
    Service,
    StepFiring,
    User,
)

POLL = 0.005
WINDOW = 2 * CHUNK * CHUNK_THREADS  # firing ids: more than the engine's chunks in flight at once take


def watch(url: str, seen: dict[int, float], stop: threading.Event) -> None:
    """Stamp each step firing with the wall-clock time it first becomes visible to a reader."""
    db = Database(url)
    last = 0
    try:
        while not stop.is_set():
            with db.Session(bind=db.read_engine) as s:
                # A window below the highest id seen: on PostgreSQL, chunks fired in parallel take
                # their ids before they commit, so a lower id can become visible after a higher one.
                rows = s.execute(select(StepFiring.id, StepFiring.incident_id).where(StepFiring.id > last - WINDOW)
                                 .order_by(StepFiring.id)).all()
            t = time.time()
            for fid, iid in rows:
                seen.setdefault(iid, t)
                last = max(last, fid)
            stop.wait(POLL)
    finally:
        db.dispose()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--pattern", choices=["staggered", "burst"], default="staggered")
    ap.add_argument("--spread", type=float, default=20.0, help="seconds over which staggered steps fall due")
    args = ap.parse_args()
    with vigil_env(args.db) as env:
        subprocess.run([sys.executable, "-m", "app.cli", "demo", "--json"], env=env, cwd=ROOT, check=True, capture_output=True)
        db = Database(env["VIGIL_DATABASE_URL"])
        now = datetime.now(UTC)
        with db.transaction() as s:
            alice = s.execute(select(User).where(User.email == "alice@vigil.example")).scalar_one()
            s.execute(delete(ContactMethod).where(ContactMethod.user_id == alice.id))
            s.add(ContactMethod(user_id=alice.id, kind="recording", address=alice.email, created_at=now))
            policy = policies.create(s, "bench", [policies.StepInput(60, (TargetSpec("user", alice.id),))] * 3,
                                     now=now, response_minutes=240)
            s.flush()
            service = s.execute(select(Service)).scalars().first()
            service.policy_id = policy.id
            s.flush()
            target = target_for_service(s, service.id, "generic")
        start = datetime.now(UTC) + timedelta(seconds=12)
        due: dict[int, datetime] = {}
        with db.transaction() as s:
            for i in range(args.n):
                iid, _ = incidents.trigger(s, target, IntakeEvent("trigger", f"bench {i}", f"b{i}"), f"b{i}", now)
                at = start if args.pattern == "burst" else start + timedelta(seconds=random.uniform(0, args.spread))
                s.execute(update(Incident).where(Incident.id == iid).values(next_escalation_at=at))
                due[iid] = at
        backend = "postgresql" if db.is_postgres else "sqlite"
        seen: dict[int, float] = {}
        stop = threading.Event()
        reader = threading.Thread(target=watch, args=(env["VIGIL_DATABASE_URL"], seen, stop), daemon=True)
        reader.start()
        engine = subprocess.Popen([sys.executable, "-m", "app.cli", "engine"], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        meter = CpuMeter(lambda: tree(engine.pid))
        try:
            spread = 0 if args.pattern == "burst" else args.spread
            # The engine's CPU from one second before the first step falls due (its start-up, the
            # imports and the first ticks, not counted) until the last page's attempt, less what
            # it spends idle (its ticks, five a second), measured over the two seconds before
            # (the CPU counters move by 10 ms).
            time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds() - 3.0))
            idle = CpuMeter(lambda: tree(engine.pid))
            idle.start()
            t_idle = time.monotonic()
            time.sleep(max(0.0, (start - datetime.now(UTC)).total_seconds() - 1.0))
            idle_per_s = idle.seconds() / (time.monotonic() - t_idle)
            meter.start()
            t_run = time.monotonic()
            deadline = time.monotonic() + 8 + spread + 120
            while time.monotonic() < deadline and sum(i in seen for i in due) < args.n:
                time.sleep(0.2)
            time.sleep(2)  # the last pages' attempts
            engine_ms = max(0.0, meter.seconds() - idle_per_s * (time.monotonic() - t_run)) / args.n * 1000
            with db.transaction() as s:
                # An incident is reached by its own page, or by a bundled page listing it (a burst
                # pages each person once a look: notify/plan.bundle).
                reached = pages_of("incident")
                first_attempt = dict(s.execute(
                    select(reached.c.key, func.min(DeliveryAttempt.started_at))
                    .join(DeliveryAttempt, DeliveryAttempt.notification_id == reached.c.nid)
                    .group_by(reached.c.key)).all())
                pages = s.execute(select(func.count(func.distinct(DeliveryAttempt.notification_id)))).scalar_one()
                open_count = s.execute(select(func.count()).select_from(Incident).where(
                    Incident.status == "triggered")).scalar_one()
        finally:
            stop.set()
            engine.send_signal(signal.SIGTERM)
            engine.wait(60)
            db.dispose()
        committed = [(seen[i] - due[i].timestamp()) * 1000 for i in due if i in seen]
        attempted = [(first_attempt[i] - due[i]).total_seconds() * 1000 for i in due if i in first_attempt]
        print(f"escalation backend={backend} pattern={args.pattern} open_incidents={open_count} steps={args.n} "
              f"fired={len(committed)} "
              f"due_to_committed_first_ms={min(committed, default=float('nan')):.0f} "
              f"p50_ms={percentile(committed, 50):.0f} p99_ms={percentile(committed, 99):.0f} "
              f"max_ms={max(committed, default=float('nan')):.0f} "
              f"due_to_first_attempt_p50_ms={percentile(attempted, 50):.0f} p99_ms={percentile(attempted, 99):.0f} "
              f"paged={len(attempted)} pages={pages} engine_cpu_ms_per_step={engine_ms:.2f} "
              f"engine_idle_cpu_ms_per_s={idle_per_s * 1000:.1f} "
              f"engine_poll_s={os.environ.get('VIGIL_ENGINE_POLL_SECONDS', '0.2')}")


if __name__ == "__main__":
    main()
