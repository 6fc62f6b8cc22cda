"""The `vigil` command: db upgrade, demo, create-user, engine, mail, serve."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import click

from . import create_app


def _app() -> Any:
    return create_app()


@click.group()
def main() -> None:
    """Vigil: on-call and incident response."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head")
def db_upgrade(revision: str) -> None:
    """Create or upgrade the schema (keeps existing data)."""
    from .migrate import current, upgrade

    app = _app()
    database = app.extensions["vigil"].db
    upgrade(database, revision)
    click.echo(f"database at revision {current(database)}")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the logins and keys as JSON.")
def demo(as_json: bool) -> None:
    """Load demo data (idempotent) and print the logins and integration keys."""
    from .demo import describe, load
    from .migrate import upgrade

    app = _app()
    _quiet_migrations()
    v = app.extensions["vigil"]
    upgrade(v.db)
    info = load(v.db, app.config, v.clock.now())
    click.echo(json.dumps(info, indent=2) if as_json else describe(info))


@main.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["admin", "manager", "engineer", "client_viewer"]), default="engineer")
@click.option("--phone", default=None, help="E.164, e.g. +33612345678")
@click.option("--client", "client_slug", default=None, help="client slug (client viewers)")
@click.password_option()
def create_user_cmd(email: str, name: str, role: str, phone: str | None, client_slug: str | None, password: str) -> None:
    """Create a user (asks for the password)."""
    from sqlalchemy import select

    from .accounts.users import UserError, create_user
    from .models import Client

    app = _app()
    v = app.extensions["vigil"]
    with v.db.transaction() as s:
        client_id = None
        if client_slug:
            client = s.execute(select(Client).where(Client.slug == client_slug)).scalar_one_or_none()
            if client is None:
                raise click.ClickException(f"no client with slug {client_slug!r}")
            client_id = client.id
        try:
            u = create_user(s, email=email, name=name, role=role, password=password, now=v.clock.now(),
                            phone=phone, client_id=client_id)
        except UserError as e:
            raise click.ClickException(str(e)) from None
        s.flush()
        click.echo(f"created {u.role} {u.email} (id {u.id})")


@main.command("reset-password")
@click.option("--email", required=True)
@click.option("--clear-totp", is_flag=True, help="Also remove the second factor (lost phone).")
@click.option("--password", default=None, help="The new password (default: generate one and print it).")
def reset_password_cmd(email: str, clear_totp: bool, password: str | None) -> None:
    """Reset a user's password and log them out everywhere (an admin locked out, for instance)."""
    from .accounts.recovery import reset_password
    from .accounts.users import UserError, find_by_email

    app = _app()
    v = app.extensions["vigil"]
    with v.db.transaction() as s:
        u = find_by_email(s, email)
        if u is None:
            raise click.ClickException(f"no user with e-mail {email!r}")
        try:
            new = reset_password(s, f"vigil reset-password (as {os.environ.get('USER', 'unknown')})", u,
                                 v.clock.now(), password=password, clear_totp=clear_totp)
        except UserError as e:
            raise click.ClickException(str(e)) from None
    click.echo(f"password of {u.email} reset; every session of this user has ended"
               + ("; second factor removed" if clear_totp else ""))
    if not password:
        click.echo(f"new password: {new}")


@main.command("rotate-key")
@click.option("--new-key-file", required=True, type=click.Path(dir_okay=False),
              help="File holding the new Fernet key; created with a fresh key if it does not exist.")
def rotate_key_cmd(new_key_file: str) -> None:
    """Re-encrypt every stored secret with a new encryption key (see README, "Security")."""
    from pathlib import Path

    from .clients.crypto import SecretError, Vault, generate_key, parse_keys, rotate

    app = _app()
    v = app.extensions["vigil"]
    path = Path(new_key_file)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(generate_key() + "\n")
        click.echo(f"wrote a new key to {path}")
    try:
        new_key = parse_keys(path.read_text())[0]
        old = Vault.from_config(app.config)
        with v.db.transaction() as s:
            count = rotate(s, old, new_key)
    except SecretError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"re-encrypted {count} secrets with the key in {path}")
    instance_file = Path(app.config["INSTANCE_PATH"]) / "encryption_key"
    if not app.config.get("ENCRYPTION_KEY") and instance_file.exists():
        # The default set-up: the new key goes first in the instance key file, the old ones stay
        # after it, so running processes (which re-read the file) and backups still decrypt.
        keys = [new_key.decode(), *(k.decode() for k in old.keys if k != new_key)]
        tmp = instance_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(keys) + "\n")
        os.replace(tmp, instance_file)
        click.echo(f"{instance_file} now holds the new key first; remove the old lines once no backup needs them")
    else:
        click.echo("now set VIGIL_ENCRYPTION_KEY_FILE to that file (new key first; keep old keys after it until "
                   "every process has restarted) and restart Vigil")


@main.command()
def engine() -> None:
    """Run the escalation engine (its own process; see README)."""
    from .engine.runner import run_process

    run_process(_app())


@main.command()
def mail() -> None:
    """Run the SMTP listener for client e-mail (needs VIGIL_MAIL_DOMAIN; see README)."""
    import threading

    from . import incidents
    from .intake.mail.listener import Handler, controller

    app = _app()
    v = app.extensions["vigil"]
    settings = _mail_settings(app)
    if settings is None:
        raise click.ClickException("the mail listener is off: set VIGIL_MAIL_DOMAIN (and VIGIL_MAIL_PORT)")
    v.db.lock_poll_max = 0.002  # one writer thread here (the listener's storer): see db.py
    handler = Handler(v.db, v.clock, settings, incidents.mail_processor(int(app.config["MAIL_ATTACHMENT_MAX_BYTES"])))
    server = controller(handler)
    server.start()
    click.echo(f"Vigil mail listening on {settings.host}:{settings.port} for *@{settings.domain}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(1.0):
        pass
    server.stop()
    handler.close()


@main.command()
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@click.option("--workers", default=2, type=int)
def serve(host: str, port: int, workers: int) -> None:
    """Run the web server (gunicorn, gevent workers) and the engine, like the Procfile does."""
    from .migrate import upgrade

    app = _app()
    _quiet_migrations()
    upgrade(app.extensions["vigil"].db)
    env = dict(os.environ, VIGIL_BASE_URL=os.environ.get("VIGIL_BASE_URL", f"http://{host}:{port}"))
    # The web workers allocate with the system's malloc, which the live tier trims when a crowd of
    # viewers leaves (views/live.py): Python's own arenas keep most of it (README, "Live updates").
    web_env = dict(env, PYTHONMALLOC=os.environ.get("PYTHONMALLOC", "malloc"))
    # The children get a session of their own: Ctrl-C reaches this process only, which stops them
    # with SIGTERM (gunicorn's graceful stop), instead of every worker dying of SIGINT halfway.
    procs = [
        subprocess.Popen([sys.executable, "-m", "gunicorn", "-k", "gevent", "-w", str(workers),
                          "--worker-connections", os.environ.get("VIGIL_WORKER_CONNECTIONS", "10000"),
                          "-b", f"{host}:{port}", "--graceful-timeout", "5", *_control_socket(app),
                          "app.wsgi:app"], env=web_env, start_new_session=True, preexec_fn=_die_with_parent),
        subprocess.Popen([sys.executable, "-m", "app.cli", "engine"], env=env, start_new_session=True,
                         preexec_fn=_die_with_parent),
    ]
    vital = list(procs)  # web and engine: if one stops, everything stops; the mail listener may fail alone
    if (mail_settings := _mail_settings(app)) is not None:  # client e-mail: on when a domain is set
        procs.append(subprocess.Popen([sys.executable, "-m", "app.cli", "mail"], env=env, start_new_session=True,
                                      preexec_fn=_die_with_parent))
    click.echo(f"Vigil is running at http://{host}:{port} (Ctrl-C stops it)")
    if mail_settings is not None:
        click.echo(f"Client e-mail: SMTP on {mail_settings.host}:{mail_settings.port} for *@{mail_settings.domain}")
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        for p in procs:
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while not stopping and all(p.poll() is None for p in vital):
        time.sleep(0.2)
    stop()
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    click.echo("Vigil stopped.")
    sys.exit(0 if all(p.returncode in (0, -signal.SIGTERM) for p in vital) else 1)


def _mail_settings(app: Any) -> Any:
    """The listener's settings, or None when it is off (neither VIGIL_MAIL_DOMAIN nor the demo's)."""
    from sqlalchemy.exc import SQLAlchemyError

    from .intake.mail.listener import Settings
    from .intake.mail.recipients import configured_domain

    v = app.extensions["vigil"]
    try:
        with v.db.session() as s:
            return Settings.of(app.config, configured_domain(s, app.config))
    except SQLAlchemyError:  # no schema yet
        return Settings.of(app.config, app.config.get("MAIL_DOMAIN"))


def _die_with_parent() -> None:
    """Linux: a child of `vigil serve` gets SIGTERM if `vigil serve` itself is killed (it has a
    session of its own, so nothing else would stop it)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _control_socket(app: Any) -> list[str]:
    """gunicorn 24+ opens a control socket, by default in ~/.gunicorn: keep it in the instance
    folder, with the database and the keys."""
    from gunicorn.config import KNOWN_SETTINGS

    if not any(s.name == "control_socket" for s in KNOWN_SETTINGS):
        return []
    os.makedirs(app.config["INSTANCE_PATH"], exist_ok=True)
    return ["--control-socket", os.path.join(os.path.abspath(app.config["INSTANCE_PATH"]), "gunicorn.ctl")]


def _quiet_migrations() -> None:
    """Alembic's INFO lines (one per revision) are for `vigil db upgrade`, not the first minute."""
    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)


if __name__ == "__main__":
    main()
