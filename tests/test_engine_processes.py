"""Two real `vigil engine` processes against one PostgreSQL database, on the system clock:
every step is notified exactly once. Also: a killed engine's work is picked up by the other."""

import signal
import time
from datetime import UTC, datetime

from sqlalchemy import func, select

from app import incidents
from app.clock import SystemClock
from app.incidents import policies
from app.incidents.escalation import TargetSpec
from app.intake.base import IntakeEvent
from app.intake.keys import lookup
from app.models import DeliveryAttempt, EngineHeartbeat, Notification, Service, StepFiring
from tests.helpers import build_world, firings_reached, requires_postgres, start_engine, wait_until


@requires_postgres
def test_two_engine_processes_deliver_each_step_exactly_once(postgres, pg_url, tmp_path) -> None:
    now = SystemClock().now()
    world = build_world(postgres, now)
    with postgres.transaction() as s:
        # Three steps, all due at once: every incident needs three firings right now.
        fast = policies.create(s, "all at once", [
            policies.StepInput(0, (TargetSpec("user", world.alice),)),
            policies.StepInput(0, (TargetSpec("user", world.bob),)),
            policies.StepInput(0, (TargetSpec("user", world.carol),)),
        ], now=now)
        s.flush()
        s.get(Service, world.globex_wh).policy_id = fast.id
    n = 60
    with postgres.transaction() as s:
        target = lookup(s, world.keys["globex_generic"])
        for i in range(n):
            incidents.trigger(s, target, IntakeEvent("trigger", f"alert {i}", f"k{i}"), f"k{i}",
                              datetime.now(UTC))
    procs = [start_engine(pg_url, tmp_path, f"engine{i}") for i in range(2)]
    try:
        def all_sent() -> bool:  # each step's page, or the bundle that carries it (an alert storm)
            with postgres.transaction() as s:
                return len(firings_reached(s)) >= 3 * n
        wait_until(all_sent)
        time.sleep(1.0)  # give a double-send every chance to show itself
        with postgres.transaction() as s:
            assert s.execute(select(func.count()).select_from(StepFiring)).scalar_one() == 3 * n
            reached = firings_reached(s)
            assert len(reached) == len(set(reached)) == 3 * n  # every step reached once, none twice
            pages = s.execute(select(func.count()).select_from(Notification)).scalar_one()
            assert pages < 3 * n  # sixty incidents at once: bundled
            assert s.execute(select(func.count()).select_from(DeliveryAttempt)).scalar_one() == pages
            beats = s.execute(select(EngineHeartbeat.name)).scalars().all()
            assert len(beats) == 2
            by_engine = dict(s.execute(select(StepFiring.engine, func.count()).group_by(StepFiring.engine)).all())
        assert sum(by_engine.values()) == 3 * n
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            assert p.wait(timeout=20) == 0, (tmp_path / "engine0.log").read_text()
