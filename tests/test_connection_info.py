"""Connection info: encrypted at rest, listed without secrets, revealed only to those who may
use it (and always audited), never to a client viewer; a wrong key leaks nothing; the key can be
rotated."""

from __future__ import annotations

import json
import logging

from click.testing import CliRunner
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from app.models import AuditEntry, ConnectionInfo
from tests.helpers import make_app

SECRET = {"kind": "ssh", "label": "Acme bastion", "host": "bastion.acme.test", "port": 2222, "user": "ops",
          "jump_host": "jump.acme.test", "instructions": "VPN first", "password": "hunter2-Very-Secret",
          "private_key": "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAsecretkey\n-----END OPENSSH PRIVATE KEY-----"}


def add(browser, world, data=None) -> int:
    r = browser("maya").post(f"/api/v1/clients/{world.acme}/connections", json=data or SECRET)
    assert r.status_code == 201, r.get_json()
    return int(r.get_json()["id"])


def test_it_is_encrypted_at_rest(world, browser, database) -> None:
    add(browser, world)
    with database.engine.connect() as c:
        raw = " ".join(str(v) for v in c.execute(text("SELECT * FROM connection_infos")).one())
    for value in ("bastion.acme.test", "hunter2", "AAAAsecretkey", "ops", "jump.acme.test"):
        assert value not in raw
    assert "Acme bastion" in raw  # the label is not secret


def test_lists_show_labels_only(world, browser) -> None:
    cid = add(browser, world)
    r = browser("alice").get(f"/api/v1/clients/{world.acme}/connections")
    assert r.status_code == 200
    item = r.get_json()["connections"][0]
    assert set(item) == {"id", "kind", "label", "updated_at"} and item["id"] == cid
    assert "hunter2" not in r.get_data(as_text=True)
    page = browser("alice").get("/clients/acme").get_data(as_text=True)
    assert "Acme bastion" in page and "hunter2" not in page and "bastion.acme.test" not in page


def test_an_engineer_of_the_pool_reveals_it_and_the_reveal_is_audited(world, browser, database, clock) -> None:
    cid = add(browser, world)
    alice = browser("alice")
    r = alice.post(f"/api/v1/connections/{cid}/reveal", headers={"User-Agent": "Vigil PWA on Pixel 8"},
                   environ_base={"REMOTE_ADDR": "192.0.2.44"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert r.get_json() == {"id": cid, "kind": "ssh", "label": "Acme bastion", "host": "bastion.acme.test", "port": 2222,
                            "user": "ops", "jump_host": "jump.acme.test", "vpn_profile": None,
                            "instructions": "VPN first", "password": SECRET["password"],
                            "private_key": SECRET["private_key"], "ssh_url": "ssh://ops@bastion.acme.test:2222"}
    with database.transaction() as s:
        e = s.execute(select(AuditEntry).where(AuditEntry.action == "connection.revealed")).scalar_one()
        assert (e.actor_id, e.client_id, e.ip, e.user_agent, e.at) == (
            world.alice, world.acme, "192.0.2.44", "Vigil PWA on Pixel 8", clock.now())
        assert e.target == f"connection:{cid}" and e.data["label"] == "Acme bastion"
        assert "hunter2" not in json.dumps(e.data)


def test_client_viewers_never_learn_that_connection_info_exists(world, browser) -> None:
    cid = add(browser, world)
    victor = browser("victor@acme.test")
    assert victor.get(f"/api/v1/clients/{world.acme}/connections").status_code == 404
    assert victor.post(f"/api/v1/connections/{cid}/reveal").status_code == 404
    page = victor.get("/clients/acme").get_data(as_text=True)
    assert "Connection info" not in page and "Acme bastion" not in page


def test_engineers_reveal_but_only_managers_and_admins_change_it(world, browser) -> None:
    cid = add(browser, world)
    alice = browser("alice")
    assert alice.post(f"/api/v1/clients/{world.acme}/connections", json=SECRET).status_code == 403
    assert alice.client.put(f"/api/v1/connections/{cid}", json={"label": "x"}, headers={"X-CSRFToken": alice.csrf}).status_code == 403
    assert browser("dave").post(f"/api/v1/connections/{cid}/reveal").status_code == 404


def test_an_update_keeps_what_it_does_not_mention(world, browser) -> None:
    cid = add(browser, world)
    maya = browser("maya")
    r = maya.client.put(f"/api/v1/connections/{cid}", json={"port": None, "user": " root ", "jump_host": None},
                        headers={"X-CSRFToken": maya.csrf})
    assert r.status_code == 200
    shown = maya.post(f"/api/v1/connections/{cid}/reveal").get_json()
    assert shown["password"] == SECRET["password"] and shown["user"] == "root" and shown["port"] is None
    assert shown["jump_host"] is None and shown["host"] == "bastion.acme.test"
    assert shown["ssh_url"] == "ssh://root@bastion.acme.test"
    bad = maya.client.put(f"/api/v1/connections/{cid}", json={"port": 70000}, headers={"X-CSRFToken": maya.csrf})
    assert bad.status_code == 400 and "port" in bad.get_json()["message"]


def test_a_wrong_key_leaks_neither_plaintext_nor_ciphertext(world, browser, database, clock, tmp_path, caplog) -> None:
    cid = add(browser, world)
    with database.transaction() as s:
        ciphertext = s.get(ConnectionInfo, cid).secret
    other = make_app(database, clock, tmp_path / "other", ENCRYPTION_KEY=Fernet.generate_key().decode())
    from tests.helpers import Browser

    alice = Browser(other.test_client()).login("alice")
    with caplog.at_level(logging.DEBUG):
        r = alice.post(f"/api/v1/connections/{cid}/reveal")
        page = alice.client.post(f"/connections/{cid}/reveal", data={"csrf_token": alice.csrf}, follow_redirects=True)
    assert r.status_code == 503 and "encryption key" in r.get_json()["message"]
    for leak in ("hunter2", "bastion.acme.test", ciphertext, ciphertext[:20]):
        assert leak not in r.get_data(as_text=True) and leak not in page.get_data(as_text=True) and leak not in caplog.text
    with database.transaction() as s:
        assert s.execute(select(AuditEntry.action).where(AuditEntry.action == "connection.reveal_failed")).scalars().all()


def test_the_manager_form_saves_encrypted_and_never_shows_the_password(world, browser, database) -> None:
    maya = browser("maya")
    r = maya.client.post("/clients/acme/connections/new", data={
        "kind": "vpn", "label": "Office VPN", "vpn_profile": "remote vpn.acme.test 1194", "password": "pa55-word-xyz",
        "csrf_token": maya.csrf})
    assert r.status_code == 302
    with database.transaction() as s:
        cid = s.execute(select(ConnectionInfo.id).where(ConnectionInfo.label == "Office VPN")).scalar_one()
    form = maya.get(f"/connections/{cid}/edit").get_data(as_text=True)
    assert "remote vpn.acme.test 1194" in form and "pa55-word-xyz" not in form
    revealed = maya.client.post(f"/connections/{cid}/reveal", data={"csrf_token": maya.csrf}).get_data(as_text=True)
    assert "pa55-word-xyz" in revealed
    assert maya.client.post(f"/connections/{cid}/delete", data={"csrf_token": maya.csrf}).status_code == 302
    assert maya.get(f"/api/v1/clients/{world.acme}/connections").get_json() == {"connections": []}


def test_rotating_the_key_re_encrypts_everything(tmp_path) -> None:
    from app.cli import main
    from app.models import User

    old_key = Fernet.generate_key().decode()
    env = {"VIGIL_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "VIGIL_INSTANCE_PATH": str(tmp_path / "instance"),
           "VIGIL_PASSWORD_PROFILE": "CHEAPEST", "VIGIL_ENCRYPTION_KEY": old_key}
    run = CliRunner().invoke
    assert run(main, ["demo"], env=env).exit_code == 0
    from app import create_app
    from app.clients import crypto

    app = create_app({"DATABASE_URL": env["VIGIL_DATABASE_URL"], "INSTANCE_PATH": env["VIGIL_INSTANCE_PATH"],
                      "ENCRYPTION_KEY": old_key, "TESTING": True, "PASSWORD_PROFILE": "CHEAPEST"})
    db = app.extensions["vigil"].db
    vault = crypto.vault_for(app)
    from datetime import UTC, datetime

    from app.clients import connections

    with db.transaction() as s:
        admin = s.execute(select(User).where(User.role == "admin")).scalars().first()
        connections.create(s, vault, admin, 1, SECRET, datetime.now(UTC))
        admin.totp_secret = vault.encrypt_text("JBSWY3DPEHPK3PXP")
    out = run(main, ["rotate-key", "--new-key-file", str(tmp_path / "new.key")], env=env)
    assert out.exit_code == 0, out.output
    # This one and a second factor, and the demo's four connection entries.
    assert "re-encrypted 6 secrets" in out.output and "VIGIL_ENCRYPTION_KEY_FILE" in out.output
    new = crypto.Vault(crypto.parse_keys((tmp_path / "new.key").read_text()))
    old_only = crypto.Vault(crypto.parse_keys(old_key))
    with db.transaction() as s:
        row = s.execute(select(ConnectionInfo).where(ConnectionInfo.label == SECRET["label"])).scalar_one()
        assert new.decrypt(row.secret)["password"] == SECRET["password"]
        try:
            old_only.decrypt(row.secret)
            raise AssertionError("the old key still reads the secret")
        except crypto.SecretError:
            pass
        admin = s.execute(select(User).where(User.totp_secret.is_not(None))).scalar_one()
        assert new.decrypt_text(admin.totp_secret) == "JBSWY3DPEHPK3PXP"
    db.dispose()


def test_the_generated_key_file_is_private_and_rotation_keeps_running_processes_reading(tmp_path) -> None:
    from app import create_app
    from app.cli import main
    from app.clients import crypto

    env = {"VIGIL_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}", "VIGIL_INSTANCE_PATH": str(tmp_path / "instance"),
           "VIGIL_PASSWORD_PROFILE": "CHEAPEST"}
    assert CliRunner().invoke(main, ["demo"], env=env).exit_code == 0
    app = create_app({"DATABASE_URL": env["VIGIL_DATABASE_URL"], "INSTANCE_PATH": env["VIGIL_INSTANCE_PATH"],
                      "TESTING": True, "PASSWORD_PROFILE": "CHEAPEST"})
    running = crypto.vault_for(app)  # a web process started before the rotation
    key_file = tmp_path / "instance" / "encryption_key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    token = running.encrypt({"password": "x"})
    db = app.extensions["vigil"].db
    with db.engine.begin() as c:
        c.execute(text("INSERT INTO connection_infos (client_id, kind, label, secret, created_at, updated_at) "
                       "VALUES (1, 'ssh', 'l', :s, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"), {"s": token})
    out = CliRunner().invoke(main, ["rotate-key", "--new-key-file", str(tmp_path / "new.key")], env=env)
    assert out.exit_code == 0 and "holds the new key first" in out.output
    with db.engine.connect() as c:
        rotated = c.execute(text("SELECT secret FROM connection_infos WHERE label = 'l'")).scalar_one()
    assert rotated != token and running.decrypt(rotated) == {"password": "x"}  # re-read the key file
    db.dispose()
