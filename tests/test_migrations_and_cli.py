"""Schema migrations and the `vigil` command."""

import json
import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import func, select, text

from app import migrate
from app.cli import main
from app.db import Database
from app.models import Base, Client, IntegrationKey, User

ROOT = Path(__file__).resolve().parent.parent


def test_the_migrations_build_exactly_the_models(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    db.dispose()
    assert diff == []


def test_an_upgrade_keeps_existing_data(tmp_path) -> None:
    """Every revision is applied to a database holding data from the one before."""
    from alembic.script import ScriptDirectory

    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    revisions = [r.revision for r in ScriptDirectory.from_config(migrate.alembic_config(db)).walk_revisions()][::-1]
    migrate.upgrade(db, revisions[0])
    with db.engine.begin() as c:
        c.execute(text("INSERT INTO pools (name, created_at) VALUES ('Pool A', '2026-01-01 00:00:00')"))
        c.execute(text("INSERT INTO clients (name, slug, tier, timezone, coverage, out_of_coverage, created_at, pool_id) "
                       "VALUES ('Acme', 'acme', '4h', 'Europe/Paris', '{\"kind\": \"always\"}', 'hold', '2026-01-01 00:00:00', 1)"))
    for rev in revisions[1:]:
        migrate.upgrade(db, rev)
    migrate.upgrade(db)
    with db.transaction() as s:
        assert s.execute(select(Client.slug)).scalars().all() == ["acme"]
    db.dispose()


def cli(tmp_path: Path, *args: str) -> str:
    env = {"VIGIL_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "VIGIL_INSTANCE_PATH": str(tmp_path / "instance"),
           "VIGIL_PASSWORD_PROFILE": "CHEAPEST"}
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_vigil_demo_is_idempotent_and_prints_working_logins_and_keys(tmp_path) -> None:
    first = json.loads(cli(tmp_path, "demo", "--json"))
    second = json.loads(cli(tmp_path, "demo", "--json"))
    assert first == second
    db = Database(f"sqlite:///{tmp_path / 'cli.db'}")
    with db.transaction() as s:
        assert s.execute(select(func.count()).select_from(User)).scalar_one() == len(first["logins"])
        assert s.execute(select(func.count()).select_from(IntegrationKey)).scalar_one() == len(first["integration_keys"])
        from app.accounts.users import check_password, find_by_email

        for login in first["logins"]:
            assert check_password(find_by_email(s, login["email"]), login["password"]), login
    db.dispose()
    assert "curl" in first["curl"] and "/v2/enqueue" in first["curl"]
    [beat] = first["heartbeats"]
    assert set(beat) == {"client", "service", "name", "ping_url"} and "/hb/" in beat["ping_url"]
    text_out = cli(tmp_path, "demo")
    assert "admin@vigil.example" in text_out and first["integration_keys"][0]["key"] in text_out


def test_the_demo_curl_line_fires_a_real_alert(tmp_path) -> None:
    """Run the printed curl against the app (through the test client) and see the incident."""
    import shlex

    from app import create_app

    info = json.loads(cli(tmp_path, "demo", "--json"))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "TESTING": True, "PASSWORD_PROFILE": "CHEAPEST"})
    args = shlex.split(info["curl"])
    body = args[args.index("-d") + 1]
    r = app.test_client().post("/v2/enqueue", data=body, content_type="application/json")
    assert r.status_code == 202 and r.get_json()["dedup_key"] == "disk-web-2"


def test_the_demo_heartbeat_url_takes_a_ping(tmp_path) -> None:
    from urllib.parse import urlsplit

    from app import create_app

    info = json.loads(cli(tmp_path, "demo", "--json"))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "INSTANCE_PATH": str(tmp_path / "instance"),
                      "TESTING": True, "PASSWORD_PROFILE": "CHEAPEST"})
    [beat] = info["heartbeats"]
    assert (beat["client"], beat["service"]) == ("acme", "Payments API")
    r = app.test_client().get(urlsplit(beat["ping_url"]).path)
    assert (r.status_code, r.get_data(as_text=True)) == (200, "OK\n")
    assert beat["ping_url"] in cli(tmp_path, "demo")


def test_vigil_create_user_and_db_upgrade(tmp_path) -> None:
    assert "database at revision" in cli(tmp_path, "db", "upgrade")
    out = cli(tmp_path, "create-user", "--email", "eve@example.com", "--name", "Eve", "--role", "engineer",
              "--password", "a long enough password")
    assert "created engineer eve@example.com" in out
    env = {"VIGIL_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "VIGIL_INSTANCE_PATH": str(tmp_path / "instance")}
    bad = CliRunner().invoke(main, ["create-user", "--email", "nope", "--name", "X", "--password", "a long enough password"], env=env)
    assert bad.exit_code != 0 and "not an e-mail address" in bad.output


def test_the_console_script_runs(tmp_path) -> None:
    env = dict(os.environ, VIGIL_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}", VIGIL_INSTANCE_PATH=str(tmp_path / "i"))
    out = subprocess.run([sys.executable, "-m", "app.cli", "--help"], env=env, capture_output=True, text=True, cwd=ROOT, check=True)
    for command in ("demo", "engine", "create-user", "serve", "db"):
        assert command in out.stdout


def test_the_migrations_build_exactly_the_models_on_postgres() -> None:
    import pytest
    from sqlalchemy.engine import make_url

    from tests.helpers import PG_URL

    if not PG_URL:
        pytest.skip("set VIGIL_TEST_POSTGRES_URL to run PostgreSQL tests")
    scratch = make_url(PG_URL).set(database="vigil_migrations_check")
    admin = Database(PG_URL)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text('DROP DATABASE IF EXISTS "vigil_migrations_check" WITH (FORCE)'))
        c.execute(text('CREATE DATABASE "vigil_migrations_check"'))
    admin.dispose()
    db = Database(scratch.render_as_string(hide_password=False))
    migrate.upgrade(db)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    db.dispose()
    assert diff == []


def test_the_instance_folder_is_the_working_directorys_instance_folder_wherever_vigil_is_installed(
    tmp_path, monkeypatch
) -> None:
    """README: the SQLite file and the generated secrets live in ./instance (or VIGIL_INSTANCE_PATH),
    never beside the installed package: in site-packages an upgrade could delete them, and two
    checkouts sharing one editable virtualenv would share one database."""
    from app import config

    monkeypatch.delenv("VIGIL_INSTANCE_PATH", raising=False)
    monkeypatch.delenv("VIGIL_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = config.load()
    assert settings["INSTANCE_PATH"] == str(tmp_path / "instance")
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'instance' / 'vigil.db'}"
    monkeypatch.setenv("VIGIL_INSTANCE_PATH", "data/vigil")
    assert config.load()["INSTANCE_PATH"] == str(tmp_path / "data" / "vigil")

    # `vigil demo` run from elsewhere than the package's folder writes there, and only there.
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env.update(PYTHONPATH=str(ROOT), VIGIL_PASSWORD_PROFILE="CHEAPEST")
    subprocess.run([sys.executable, "-m", "app.cli", "demo", "--json"], env=env, cwd=work, check=True,
                   capture_output=True, timeout=120)
    assert {"secret_key", "vigil.db"} <= {p.name for p in (work / "instance").iterdir()}
