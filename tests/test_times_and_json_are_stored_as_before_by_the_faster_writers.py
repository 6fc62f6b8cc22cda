"""Two hot conversions were replaced by faster ones: a time's text on SQLite (isoformat instead of
SQLAlchemy's %-format; fromisoformat to read it back) and a JSON column's text (orjson instead
of json.dumps). What is stored must read back the same, whatever wrote it before, and what orjson
refuses must still be stored, as json.dumps stores it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime, insert, select, text
from sqlalchemy.dialects import sqlite

from app.db import UTCDateTime, json_text
from app.models import Incident, TimelineEntry
from tests.helpers import post_alert

TIMES = [datetime(2026, 3, 2, 3, 0, tzinfo=UTC), datetime(2026, 3, 2, 4, 0, 0, 123456, tzinfo=UTC),
         datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
         datetime(2026, 10, 25, 1, 30, tzinfo=timezone(timedelta(hours=5, minutes=30)))]


@pytest.mark.parametrize("when", TIMES, ids=lambda t: t.isoformat())
def test_a_time_is_written_on_sqlite_as_sqlalchemys_datetime_writes_its_utc(when) -> None:
    dialect = sqlite.dialect()
    ours = UTCDateTime()._cached_bind_processor(dialect)
    theirs = DateTime()._cached_bind_processor(dialect)
    assert ours(when) == theirs(when.astimezone(UTC).replace(tzinfo=None))
    assert UTCDateTime()._cached_result_processor(dialect, None)(ours(when)) == when
    with pytest.raises(ValueError, match="naive"):
        ours(datetime(2026, 3, 2, 3, 0))


def test_times_stored_in_any_of_sqlites_forms_read_back_as_utc(database) -> None:
    if not database.is_sqlite:
        pytest.skip("the text form of a time is SQLite's")
    read = UTCDateTime()._cached_result_processor(database.engine.dialect, None)
    with database.session() as s:
        # Without microseconds, as CURRENT_TIMESTAMP writes it; with them, as SQLAlchemy does.
        stored = s.execute(text("SELECT '2026-03-02 03:00:00', '2026-03-02 03:00:00.250000'")).one()
    assert [read(v) for v in stored] == [datetime(2026, 3, 2, 3, 0, tzinfo=UTC),
                                         datetime(2026, 3, 2, 3, 0, 0, 250000, tzinfo=UTC)]


def test_json_columns_keep_what_orjson_refuses_and_what_it_takes(client, world, database) -> None:
    assert post_alert(client, world.keys["acme_generic"]).status_code == 202
    with database.session() as s:
        iid = s.execute(select(Incident.id)).scalar_one()
    kept = [{"big": 2**70}, {"lone": "\ud800"}, {"n": 1, "ü": "é\u2028", "none": None, "list": [1.5, True]}]
    with database.transaction() as s:
        s.execute(insert(TimelineEntry.__table__), [
            {"incident_id": iid, "at": TIMES[0], "kind": "note", "actor_id": None, "actor_label": "json",
             "message": str(n), "data": d} for n, d in enumerate(kept)])
    with database.session() as s:
        back = s.execute(select(TimelineEntry.data).where(TimelineEntry.actor_label == "json")
                         .order_by(TimelineEntry.id)).scalars().all()
    assert back == kept
    assert json.loads(json_text(kept)) == kept and json_text({1: "a"}) == '{"1":"a"}'
    with pytest.raises(TypeError):  # a time in a JSON column is a bug, as it was with json.dumps
        json_text({"at": TIMES[0]})
