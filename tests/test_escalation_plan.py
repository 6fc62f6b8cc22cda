"""The pure escalation functions: what is due, and when."""

from datetime import UTC, datetime, timedelta

from app.incidents import escalation
from app.incidents.escalation import PolicySpec, Position, StepSpec, TargetSpec
from app.incidents.policies import PRESETS

T0 = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)
A, B, LEAD = TargetSpec("user", 1), TargetSpec("user", 2), TargetSpec("user", 3)


def preset_spec(tier: str, roles: dict[str, TargetSpec]) -> PolicySpec:
    p = PRESETS[tier]
    return PolicySpec(tuple(StepSpec(d, tuple(roles[r] for r in rs)) for d, rs in p.steps), p.repeat, p.response_minutes)


def minutes(plan: list[tuple[Position, datetime]]) -> list[int]:
    return [int((due - T0).total_seconds() // 60) for _, due in plan]


def test_the_4h_preset_notifies_at_m0_m30_m60_and_keeps_going_until_the_deadline() -> None:
    spec = preset_spec("4h", {"primary": A, "lead": LEAD})
    plan = escalation.plan(spec, T0)
    assert minutes(plan)[:3] == [0, 30, 60]
    assert [spec.steps[p.step].targets for p, _ in plan[:3]] == [(A,), (A,), (LEAD,)]
    assert minutes(plan)[-1] == 240
    assert spec.response_minutes == 240


def test_the_1h_preset_adds_engineer_two_at_m30_and_the_manager_at_m60() -> None:
    spec = preset_spec("1h", {"primary": A, "secondary": B, "manager": LEAD})
    plan = escalation.plan(spec, T0)
    assert minutes(plan)[:3] == [0, 30, 60]
    assert [spec.steps[p.step].targets for p, _ in plan[:3]] == [(A,), (B,), (LEAD,)]
    assert spec.response_minutes == 60


def test_a_late_step_does_not_push_the_next_one_later() -> None:
    spec = PolicySpec((StepSpec(30, (A,)), StepSpec(30, (B,))))
    # step 1 was due at T0 and fired 10 minutes late: step 2 is still due at M+30
    nxt = escalation.after(spec, Position(0, 0), T0)
    assert nxt == (Position(0, 1), T0 + timedelta(minutes=30))


def test_a_policy_without_repeat_is_exhausted_after_its_last_step() -> None:
    spec = PolicySpec((StepSpec(10, (A,)), StepSpec(10, (B,))), repeat=0)
    assert escalation.after(spec, Position(0, 1), T0) is None


def test_repeat_starts_the_policy_over_after_the_last_delay() -> None:
    spec = PolicySpec((StepSpec(10, (A,)), StepSpec(20, (B,))), repeat=1)
    assert minutes(escalation.plan(spec, T0)) == [0, 10, 30, 40]


def test_validation_names_every_problem() -> None:
    bad = PolicySpec((StepSpec(-1, ()), StepSpec(0, (A,))), repeat=50, response_minutes=0)
    errors = escalation.validate(bad)
    assert "step 1 has no targets" in errors
    assert "step 1: delay must be between 0 and 1440 minutes" in errors
    assert "repeat must be between 0 and 20" in errors
    assert any("response deadline" in e for e in errors)
    assert escalation.validate(PolicySpec(())) == ["a policy needs at least one step"]
