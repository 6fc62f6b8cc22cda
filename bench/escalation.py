"""Escalation timing accuracy: with 1,000 open incidents whose next steps fall due over 20 s,
how late does a real `vigil engine` process fire them (due -> fired, from the firing records)?

    python bench/escalation.py
    python bench/escalation.py --db postgresql://postgres@127.0.0.1:5432/bench
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

from _support import ROOT, percentile, vigil_env
from sqlalchemy import func, select, update

from app import incidents
from app.db import Database
from app.incidents import policies
from app.incidents.escalation import TargetSpec
from app.intake.base import IntakeEvent
from app.intake.keys import target_for_service
from app.models import Incident, Notification, Service, StepFiring, User


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--spread", type=float, default=20.0, help="seconds over which the steps fall due")
    args = ap.parse_args()
    with vigil_env(args.db) as env:
        subprocess.run([sys.executable, "-m", "app.cli", "demo", "--json"], env=env, cwd=ROOT, check=True, capture_output=True)
        db = Database(env["VIGIL_DATABASE_URL"])
        now = datetime.now(UTC)
        with db.transaction() as s:
            alice = s.execute(select(User).where(User.email == "alice@vigil.example")).scalar_one()
            policy = policies.create(s, "bench", [policies.StepInput(60, (TargetSpec("user", alice.id),))] * 3,
                                     now=now, response_minutes=240)
            s.flush()
            service = s.execute(select(Service)).scalars().first()
            service.policy_id = policy.id
            s.flush()
            target = target_for_service(s, service.id, "generic")
        start = datetime.now(UTC) + timedelta(seconds=5)
        with db.transaction() as s:
            for i in range(args.n):
                iid, _ = incidents.trigger(s, target, IntakeEvent("trigger", f"bench {i}", f"b{i}"), f"b{i}", now)
                due = start + timedelta(seconds=random.uniform(0, args.spread))
                s.execute(update(Incident).where(Incident.id == iid).values(next_escalation_at=due))
        backend = "postgresql" if db.is_postgres else "sqlite"
        engine = subprocess.Popen([sys.executable, "-m", "app.cli", "engine"], env=env, cwd=ROOT,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + args.spread + 60
            while time.monotonic() < deadline:
                with db.transaction() as s:
                    fired = s.execute(select(func.count()).select_from(StepFiring)).scalar_one()
                if fired >= args.n:
                    break
                time.sleep(0.5)
            time.sleep(2)
            with db.transaction() as s:
                lateness = [ms for (ms,) in s.execute(select(StepFiring.lateness_ms))]
                open_count = s.execute(select(func.count()).select_from(Incident).where(Incident.status == "triggered")).scalar_one()
                sent = s.execute(select(func.count()).select_from(Notification).where(Notification.status == "sent")).scalar_one()
        finally:
            engine.send_signal(signal.SIGTERM)
            engine.wait(30)
            db.dispose()
        print(f"escalation_lateness backend={backend} open_incidents={open_count} fired={len(lateness)} "
              f"p50_ms={percentile(lateness, 50):.0f} p99_ms={percentile(lateness, 99):.0f} max_ms={max(lateness)} "
              f"pages_sent={sent} engine_poll_s={os.environ.get('VIGIL_ENGINE_POLL_SECONDS', '0.2')}")


if __name__ == "__main__":
    main()
