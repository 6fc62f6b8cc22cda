"""Engines killed at random while they escalate: does every step fire exactly once, and how many
pages reach a provider twice?

Three `vigil engine` processes (each with --workers sending threads) work through a few hundred
incidents that arrive over --seconds; every incident is opened 61 minutes in the past, as if the
clock had moved on, so its M+0, M+30 and M+60 steps are all due and fire one after another.
Meanwhile a random engine is killed with SIGKILL every few seconds and started again a second
later. Steps falling due together page each person once per channel and look, and a storm's
calls and SMS wait 5 s after the last ring (VIGIL_STORM_PAGE_PACE_SECONDS; a minute by
default), later looks adding to them. Everyone is reached by SMS and voice (a local
Twilio-compatible provider on loopback that answers in 50 ms) and e-mail (a local SMTP server); each counts what it received, by the page's
idempotency key or Message-ID. When nothing is left to do, it prints:

    steps expected / fired / missing / doubled
    deliveries expected / received / missing / doubled (and the bound: kills x sending threads)
    bundled pages (steps due in the same look page each person once: notify/plan.bundle), steps
    paged, and steps whose pages (their own or a bundle's) never reached a provider

    python bench/chaos.py
    python bench/chaos.py --db postgresql://postgres@127.0.0.1:5432/bench --incidents 300 --kills 6

What ran beside it: the three engines, the two local providers, and this script (which opens
the incidents and counts) on the same cores; no web server (the incidents are written straight
to the database, as intake would).
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _support import ROOT, vigil_env
from sqlalchemy import delete, func, select

from app import incidents
from app.db import Database
from app.incidents import escalation
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.models import (
    ContactMethod,
    EscalationPolicy,
    Incident,
    Notification,
    PageIncident,
    StepFiring,
    User,
)
from tests.fakes.smtp import FakeSMTPServer
from tests.fakes.twilio import FakeTwilio
from tests.helpers import build_world

BACKDATE = timedelta(minutes=61)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--incidents", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=30.0, help="the incidents arrive over this long")
    ap.add_argument("--engines", type=int, default=3)
    ap.add_argument("--kills", type=int, default=6)
    ap.add_argument("--workers", type=int, default=4, help="sending threads per engine")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    with FakeTwilio() as twilio, FakeSMTPServer() as smtp, vigil_env(args.db) as env:
        twilio.respond_with(None, delay=0.05)  # every request takes 50 ms, so sends overlap
        env.update(
            VIGIL_TWILIO_BASE_URL=twilio.url, VIGIL_TWILIO_ACCOUNT_SID=twilio.account_sid,
            VIGIL_TWILIO_AUTH_TOKEN=twilio.auth_token, VIGIL_TWILIO_FROM="+15005550006",
            VIGIL_SMTP_HOST="127.0.0.1", VIGIL_SMTP_PORT=str(smtp.port), VIGIL_SMTP_STARTTLS="0",
            VIGIL_SMTP_FROM="vigil@bench.test", VIGIL_ENGINE_WORKERS=str(args.workers),
            VIGIL_ENGINE_POLL_SECONDS="0.1", VIGIL_SCHEDULE_CHECK_SECONDS="3600",
            VIGIL_STORM_PAGE_PACE_SECONDS="5",  # a storm's calls and SMS paced (a minute by default), killed too
        )
        db = Database(env["VIGIL_DATABASE_URL"])
        backend = "postgresql" if db.is_postgres else "sqlite"
        keys = setup(db)
        logs = Path(env["VIGIL_INSTANCE_PATH"])
        logs.mkdir(parents=True, exist_ok=True)
        engines = [start(env, logs, f"e{i}") for i in range(args.engines)]
        kills = 0
        try:
            feeder = threading.Thread(target=feed, args=(db, keys, args.incidents, args.seconds), daemon=True)
            feeder.start()
            deadline = time.monotonic() + args.seconds + 10
            while kills < args.kills:
                time.sleep(rng.uniform(1.0, max(1.5, 2 * (deadline - time.monotonic()) / (args.kills - kills + 1))))
                i = rng.randrange(len(engines))
                engines[i].send_signal(signal.SIGKILL)
                engines[i].wait(10)
                kills += 1
                time.sleep(1.0)
                engines[i] = start(env, logs, f"e{i}-{kills}")
            feeder.join()
            settle(db)
        finally:
            for e in engines:
                e.send_signal(signal.SIGTERM)
            for e in engines:
                e.wait(30)
        report(db, backend, args, kills, twilio, smtp)
        db.dispose()


def setup(db: Database) -> list[str]:
    """The tests' world (Pool A covering Acme, 4-hour SLA, and Globex, 1-hour dual), everyone
    reached by SMS, voice and e-mail: three pages per person per step."""
    now = datetime.now(UTC)
    world = build_world(db, now)
    with db.transaction() as s:
        for n, user in enumerate(s.execute(select(User)).scalars()):
            s.execute(delete(ContactMethod).where(ContactMethod.user_id == user.id))
            phone = f"+336{n:08d}"
            s.add_all([ContactMethod(user_id=user.id, kind="sms", address=phone, created_at=now),
                       ContactMethod(user_id=user.id, kind="voice", address=phone, created_at=now),
                       ContactMethod(user_id=user.id, kind="email", address=f"u{n}@bench.test", created_at=now)])
    return [world.keys["acme_generic"], world.keys["globex_generic"]]


def feed(db: Database, keys: list[str], n: int, seconds: float) -> None:
    """n incidents spread over `seconds`, each opened 61 minutes ago (M+0, M+30, M+60 all due)."""
    for i in range(n):
        with db.transaction() as s:
            target = lookup(s, keys[i % len(keys)])
            dedup = uuid.uuid4().hex
            incidents.trigger(s, target, IntakeEvent("trigger", f"chaos {i}", dedup), dedup,
                              datetime.now(UTC) - BACKDATE)
        time.sleep(seconds / n)


def start(env: dict[str, str], logs: Path, name: str) -> subprocess.Popen[bytes]:
    with open(logs / f"{name}.log", "wb") as log:
        return subprocess.Popen([sys.executable, "-m", "app.cli", "engine"], env=env, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT)


def settle(db: Database, timeout: float = 120.0) -> None:
    """Wait until no step is due and no page is waiting or in flight (a dead engine's claims go
    back when its heartbeat stops, 10 s after the kill)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = datetime.now(UTC)
        with db.transaction() as s:
            due = s.execute(select(func.count()).select_from(Incident).where(
                Incident.status == "triggered", Incident.next_escalation_at <= now)).scalar_one()
            # A storm's call or SMS waiting for its pace (a bundle) counts as open, however far its time.
            bundle = select(PageIncident.notification_id).where(PageIncident.notification_id == Notification.id)
            open_pages = s.execute(select(func.count()).select_from(Notification).where(
                Notification.status.in_(("pending", "sending")),
                (Notification.not_before <= now) | bundle.exists())).scalar_one()
        if not due and not open_pages:
            time.sleep(1.0)  # a page sent twice shows up at the providers a moment later
            return
        time.sleep(0.5)
    raise SystemExit("the engines did not finish within two minutes")


def report(db: Database, backend: str, args: argparse.Namespace, kills: int, twilio: FakeTwilio,
           smtp: FakeSMTPServer) -> None:
    now = datetime.now(UTC)
    with db.transaction() as s:
        policies = {p.id: escalation.PolicySpec.from_model(p) for p in s.execute(select(EscalationPolicy)).scalars()}
        expected_steps = sum(
            sum(1 for _, due in escalation.plan(policies[pid], created) if due <= now)
            for pid, created in s.execute(select(Incident.policy_id, Incident.created_at)).all())
        firings = s.execute(select(StepFiring.incident_id, StepFiring.step_index, StepFiring.loop)).all()
        pages = set(s.execute(select(Notification.id).where(Notification.not_before <= now)).scalars())
        failed = s.execute(select(func.count()).select_from(Notification).where(
            Notification.status != "sent", Notification.not_before <= now)).scalar_one()
        # Each step's pages: its own, or a bundled page listing it (notify/plan.bundle), which
        # reaches it when that page reaches the provider.
        own = s.execute(select(Notification.id, Notification.firing_id).where(
            Notification.not_before <= now, Notification.firing_id.is_not(None))).all()
        listed = s.execute(select(PageIncident.notification_id, PageIncident.firing_id)).all()
        bundled = len({nid for nid, _ in listed})
    fired = len(set(firings))
    received = Counter(int(m.idempotency_key.rsplit("-n", 1)[1]) for m in [*twilio.messages, *twilio.calls])
    received.update(int(str(m.message["Message-ID"]).split(".")[2].split("@")[0]) for m in smtp.messages)
    doubled = sum(c - 1 for c in received.values())
    steps_paged = {fid for nid, fid in [*own, *listed]}
    unreached = steps_paged - {fid for nid, fid in [*own, *listed] if nid in received}
    print(f"chaos backend={backend} engines={args.engines} workers={args.workers} kills={kills} "
          f"incidents={args.incidents} "
          f"steps expected={expected_steps} fired={fired} missing={expected_steps - fired} "
          f"doubled={len(firings) - fired} "
          f"deliveries expected={len(pages)} received={len(received)} missing={len(pages - set(received))} "
          f"doubled={doubled} (bound: kills x sending threads = {kills * args.workers}) not_sent={failed} "
          f"bundled_pages={bundled} steps_paged={len(steps_paged)} steps_unreached={len(unreached)}")


if __name__ == "__main__":
    main()
