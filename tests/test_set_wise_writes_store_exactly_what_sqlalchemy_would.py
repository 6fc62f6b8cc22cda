"""bulk.insert_rows hands SQLite's driver the rows as tuples, each value through the bind processor
SQLAlchemy would use (and PostgreSQL one JSON parameter): what is stored must be byte for byte
what SQLAlchemy's own executemany stores, or text comparisons of times would go wrong on SQLite.
bulk.insert_returning gives back each new row's columns, matched by a unique key, on both."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, update

from app import bulk
from app.models import Incident, StepFiring, TimelineEntry
from tests.helpers import post_alert


def test_rows_written_set_wise_are_stored_as_sqlalchemys_own_insert_stores_them(client, world, database) -> None:
    assert post_alert(client, world.keys["acme_generic"]).status_code == 202
    t = TimelineEntry.__table__
    with database.session() as s:
        iid = s.execute(select(Incident.id)).scalar_one()
    at = [datetime(2026, 3, 2, 3, 0, tzinfo=UTC),  # whole seconds: SQLite's text still has ".000000"
          datetime(2026, 3, 2, 4, 0, 0, 123456, tzinfo=UTC),
          datetime.fromisoformat("2026-03-02T05:00:00.5+01:00")]  # another zone: stored as UTC
    rows = [{"incident_id": iid, "at": a, "kind": "note", "actor_id": None, "actor_label": "bulk",
             "message": f"line {n} – ünïcode", "data": {"n": n, "list": [1, None], "none": None}}
            for n, a in enumerate(at)]
    with database.transaction() as s:
        bulk.insert_rows(s.connection(), t, rows)
        s.connection().execute(insert(t), [{**r, "actor_label": "sqlalchemy"} for r in rows])
    with database.session() as s:
        stored = s.connection().exec_driver_sql(
            "SELECT actor_label, at, data, message, actor_id FROM timeline_entries "
            "WHERE actor_label IN ('bulk', 'sqlalchemy') ORDER BY id").all()
        back = s.execute(select(TimelineEntry.at).where(TimelineEntry.actor_label == "bulk")
                         .order_by(TimelineEntry.id)).scalars().all()
    ours = [tuple(r[1:]) for r in stored if r[0] == "bulk"]
    theirs = [tuple(r[1:]) for r in stored if r[0] == "sqlalchemy"]
    assert len(ours) == 3 and ours == theirs
    assert back == at  # read back as the same instants, aware, in UTC
    if database.is_sqlite:
        assert ours[0][0] == "2026-03-02 03:00:00.000000" and ours[2][0] == "2026-03-02 04:00:00.500000"


def test_rows_inserted_set_wise_give_back_their_new_ids_matched_by_a_unique_key(client, world, database,
                                                                                  clock) -> None:
    for k in ("a", "b", "c"):
        assert post_alert(client, world.keys["acme_generic"], dedup=k).status_code == 202
    with database.session() as s:
        incident_ids = s.execute(select(Incident.id).order_by(Incident.id)).scalars().all()
    rows = [{"incident_id": i, "seq": 7, "step_index": 0, "loop": 0, "due_at": clock.now(), "fired_at": clock.now(),
             "lateness_ms": 0, "manual": False, "engine": "test", "targets": [1, 2]} for i in incident_ids]
    with database.transaction() as s:
        written = bulk.insert_returning(s.connection(), StepFiring.__table__, rows, ("id", "incident_id", "seq"))
    with database.session() as s:
        stored = {(f.incident_id, f.seq): (f.id, f.targets, f.due_at)
                  for f in s.execute(select(StepFiring).where(StepFiring.engine == "test")).scalars()}
    assert {(r.incident_id, r.seq): r.id for r in written} == {k: v[0] for k, v in stored.items()}
    assert len(written) == 3 and all(v[1:] == ([1, 2], clock.now()) for v in stored.values())


def test_rows_updated_set_wise_are_stored_as_sqlalchemys_own_update_stores_them(client, world, database,
                                                                               clock) -> None:
    for k in "abcd":
        assert post_alert(client, world.keys["acme_generic"], dedup=k).status_code == 202
    i = Incident.__table__
    with database.session() as s:
        a, b, c, d = s.execute(select(i.c.id).order_by(i.c.id)).scalars().all()
    later = datetime(2026, 3, 2, 5, 0, 0, 500000, tzinfo=UTC)
    with database.transaction() as s:
        bulk.update_rows(s.connection(), i, [{"id": a, "esc_seq": 7, "next_escalation_at": later},
                                             {"id": b, "esc_seq": 8, "next_escalation_at": None},
                                             {"id": a, "esc_seq": 9, "next_escalation_at": later}])  # the later wins
        s.execute(update(i).where(i.c.id == c).values(esc_seq=9, next_escalation_at=later))
        s.execute(update(i).where(i.c.id == d).values(esc_seq=8, next_escalation_at=None))
    with database.session() as s:
        stored = dict(s.connection().exec_driver_sql(
            f"SELECT id, esc_seq || ' ' || coalesce(CAST(next_escalation_at AS TEXT), '-') FROM incidents "
            f"WHERE id IN ({a}, {b}, {c}, {d})").all())
    assert (stored[a], stored[b]) == (stored[c], stored[d])
    assert stored[a].startswith("9 2026-03-02 05:00:00.5") and stored[b] == "8 -"
