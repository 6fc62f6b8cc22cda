"""Connection info: the way into a client's environment (SSH, VPN, bastion...), encrypted at rest.

Lists carry only id, kind, label and update time. The secret fields leave the database only
through reveal(), which checks access and writes an audit entry (who, which client, when, from
which address and device) in the same transaction as it answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import access, audit
from ..models import ConnectionInfo, User
from .crypto import SecretError, Vault

KINDS = ("ssh", "vpn", "bastion", "other")
# Secret fields and their largest accepted size (a VPN profile or a private key is a file).
FIELDS: dict[str, int] = {
    "host": 255, "user": 100, "jump_host": 255, "vpn_profile": 65536, "instructions": 10000,
    "password": 1000, "private_key": 16384,
}
SECRET_FIELDS = (*FIELDS, "port")


class ConnectionInfoError(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


def summary(c: ConnectionInfo) -> dict[str, Any]:
    """What a list shows: nothing secret."""
    return {"id": c.id, "kind": c.kind, "label": c.label, "updated_at": c.updated_at.isoformat()}


def list_for_client(session: Session, user: User, client_id: int) -> list[ConnectionInfo]:
    access.check_see_connections(session, user, client_id)
    return list(session.execute(
        select(ConnectionInfo).where(ConnectionInfo.client_id == client_id).order_by(ConnectionInfo.label, ConnectionInfo.id)
    ).scalars())


def _clean(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Validated fields; with `partial`, absent fields are left out (kept as they are)."""
    if not isinstance(data, dict):
        raise ConnectionInfoError("send an object")
    unknown = set(data) - {"kind", "label", *SECRET_FIELDS}
    if unknown:
        raise ConnectionInfoError(f"unknown field(s): {', '.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    if "kind" in data or not partial:
        if data.get("kind") not in KINDS:
            raise ConnectionInfoError(f"kind must be one of {', '.join(KINDS)}")
        out["kind"] = data["kind"]
    if "label" in data or not partial:
        label = data.get("label")
        if not isinstance(label, str) or not label.strip() or len(label.strip()) > 200:
            raise ConnectionInfoError("label is required (at most 200 characters); it is not secret")
        out["label"] = label.strip()
    for name, limit in FIELDS.items():
        if name not in data:
            continue
        value = data[name]
        if value is not None and not isinstance(value, str):
            raise ConnectionInfoError(f"{name} must be a string")
        if value is not None and len(value) > limit:
            raise ConnectionInfoError(f"{name} is longer than {limit} characters")
        if name in ("host", "user", "jump_host") and value and any(ch.isspace() for ch in value.strip()):
            raise ConnectionInfoError(f"{name} cannot contain spaces")
        if value is not None and name in ("host", "user", "jump_host"):
            value = value.strip()
        out[name] = value or None
    if "port" in data:
        port = data["port"]
        if isinstance(port, str) and port.strip().isdecimal():
            port = int(port)
        if port in ("", None):
            port = None
        elif isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise ConnectionInfoError("port must be a number from 1 to 65535")
        out["port"] = port
    return out


def _secret_part(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k in SECRET_FIELDS}


def create(session: Session, vault: Vault, user: User, client_id: int, data: dict[str, Any], now: datetime) -> ConnectionInfo:
    access.check_manage_connections(session, user, client_id)
    fields = _clean(data, partial=False)
    payload = {name: None for name in SECRET_FIELDS} | _secret_part(fields)
    row = ConnectionInfo(client_id=client_id, kind=fields["kind"], label=fields["label"], secret=vault.encrypt(payload),
                         created_at=now, created_by_id=user.id, updated_at=now, updated_by_id=user.id)
    session.add(row)
    session.flush()
    audit.record(session, "connection.created", actor=user, client_id=client_id, at=now, target=f"connection:{row.id}",
                 label=row.label, kind=row.kind, fields=sorted(k for k, v in payload.items() if v is not None))
    return row


def _get(session: Session, user: User, conn_id: int) -> ConnectionInfo:
    row = session.get(ConnectionInfo, conn_id)
    if row is None:
        raise access.Denied("connection info not found", 404)
    access.check_see_connections(session, user, row.client_id)
    return row


def update(session: Session, vault: Vault, user: User, conn_id: int, data: dict[str, Any], now: datetime) -> ConnectionInfo:
    """Fields present replace the stored ones (null clears); absent fields are kept."""
    row = _get(session, user, conn_id)
    access.check_manage_connections(session, user, row.client_id)
    fields = _clean(data, partial=True)
    changed = sorted(fields)
    secret = _secret_part(fields)
    if secret:
        row.secret = vault.encrypt(_decrypt(vault, row) | secret)
    row.kind = fields.get("kind", row.kind)
    row.label = fields.get("label", row.label)
    row.updated_at, row.updated_by_id = now, user.id
    audit.record(session, "connection.updated", actor=user, client_id=row.client_id, at=now, target=f"connection:{row.id}",
                 label=row.label, kind=row.kind, fields=changed)
    return row


def delete(session: Session, user: User, conn_id: int, now: datetime) -> None:
    row = _get(session, user, conn_id)
    access.check_manage_connections(session, user, row.client_id)
    audit.record(session, "connection.deleted", actor=user, client_id=row.client_id, at=now, target=f"connection:{row.id}",
                 label=row.label, kind=row.kind)
    session.delete(row)


def reveal(session: Session, vault: Vault, user: User, conn_id: int, now: datetime, *, via: str = "api") -> dict[str, Any]:
    """The secret fields, for someone who may use them; always audited, even when the key is
    wrong (the failure is recorded and the caller is told, with no ciphertext in the message)."""
    row = _get(session, user, conn_id)
    try:
        payload = _decrypt(vault, row)
    except ConnectionInfoError:
        audit.record(session, "connection.reveal_failed", actor=user, client_id=row.client_id, at=now,
                     target=f"connection:{row.id}", label=row.label, via=via)
        raise
    audit.record(session, "connection.revealed", actor=user, client_id=row.client_id, at=now,
                 target=f"connection:{row.id}", label=row.label, kind=row.kind, via=via)
    out: dict[str, Any] = {"id": row.id, "kind": row.kind, "label": row.label}
    out |= {name: payload.get(name) for name in ("host", "port", "user", "jump_host", "vpn_profile",
                                                  "instructions", "password", "private_key")}
    out["ssh_url"] = ssh_url(payload) if row.kind in ("ssh", "bastion") else None
    return out


def _decrypt(vault: Vault, row: ConnectionInfo) -> dict[str, Any]:
    try:
        return vault.decrypt(row.secret)
    except SecretError:
        raise ConnectionInfoError("this connection info cannot be decrypted: the server's encryption key does not "
                               "match the one it was stored with; tell an admin", 503) from None


def ssh_url(payload: dict[str, Any]) -> str | None:
    """ssh://user@host:port (RFC-draft ssh URI) for a phone's SSH app; None without a host."""
    host = payload.get("host")
    if not host:
        return None
    netloc = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if payload.get("user"):
        netloc = f"{quote(payload['user'], safe='')}@{netloc}"
    if payload.get("port"):
        netloc += f":{payload['port']}"
    return f"ssh://{netloc}"
