"""The demo's Pool A is staffed by a Primary and a Secondary layer that its policies page, every
week (a complete dual schedule), with one night open to claim next week (the Secondary on leave)."""

from datetime import timedelta

from sqlalchemy import func, select

from app import demo
from app.models import EscalationTarget, Schedule, ScheduleLayer, User
from app.schedules import open_slots, whos_on


def test_the_demo_schedule_pages_layers_and_offers_an_open_slot(app, database, clock) -> None:
    demo.load(database, app.config, clock.now())
    demo.load(database, app.config, clock.now() + timedelta(days=3))  # idempotent, even days later
    with database.transaction() as s:
        assert s.execute(select(func.count()).select_from(Schedule)).scalar_one() == 1
        layers = {r.name: r.id for r in s.execute(select(ScheduleLayer.name, ScheduleLayer.id))}
        assert sorted(layers) == ["Primary", "Secondary"]
        targeted = set(s.execute(select(EscalationTarget.layer_id).where(EscalationTarget.kind == "layer")).scalars())
        assert targeted == set(layers.values())
        maya = s.execute(select(User).where(User.email == "maya@vigil.example")).scalar_one()
        alice = s.execute(select(User).where(User.email == "alice@vigil.example")).scalar_one()
        now = whos_on.oncall(s, maya, clock.now())
        on_call = [layer["on_call"]["user"]["name"] for layer in now["schedules"][0]["layers"]]
        assert len(on_call) == 2 and len(set(on_call)) == 2  # two different people: dual on-call
        slots = open_slots.open_slots(s, alice, clock.now(), 4)
        assert [slot.roster.layer_names[slot.piece.layer_id] for slot in slots] == ["Secondary"]
        assert slots[0].piece.end - slots[0].piece.start == timedelta(hours=14)  # 19:00 to 09:00
        gaps = open_slots.gaps(s, clock.now(), clock.now() + timedelta(days=28))
        assert [g["layer"]["name"] for g in gaps] == ["Secondary"]  # only that night
