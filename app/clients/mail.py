"""A client's e-mail settings as managers set them on the client screen: the address (local
part), allowed senders and domains, what happens to unknown senders (refuse or hold), the reopen
window, the rate limit, the default service; and the messages held for review."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import audit
from ..errors import ActionError
from ..intake.keys import forget_cached_keys
from ..intake.mail.recipients import local_part_of
from ..intake.mail.senders import DEFAULTS, normalise_rule
from ..models import Client, ClientMail, InboundMail, MailAttachment, Service, User

_LOCAL = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def settings_of(session: Session, client: Client, domain: str | None) -> dict[str, Any]:
    row = session.get(ClientMail, client.id)
    v = {k: getattr(row, k) for k in DEFAULTS} if row is not None else dict(DEFAULTS)
    local = local_part_of(client, row)
    return {
        **v, "allowed_senders": list(v["allowed_senders"] or []),
        "address": f"{local}@{domain}" if domain else None, "local_part": local,
        "services": [{"id": s.id, "name": s.name} for s in client.services],
    }


def save(session: Session, actor: User, client: Client, body: dict[str, Any], now: datetime) -> ClientMail:
    """Validate and store; every mistake is a 400 with the field named."""
    row = session.get(ClientMail, client.id) or ClientMail(client_id=client.id, allowed_senders=[])
    if "local_part" in body:
        local = str(body["local_part"] or "").strip().lower()
        if local and not _LOCAL.match(local) or "+" in local:
            raise ActionError("local_part: letters, digits, '.', '_' and '-' only (no '+': it chooses a service)", 400)
        taken = session.execute(
            select(Client.id).outerjoin(ClientMail, ClientMail.client_id == Client.id)
            .where(Client.id != client.id,
                   (ClientMail.local_part == local) | ((Client.slug == local) & ClientMail.local_part.is_(None)))
        ).first()
        if local and taken:
            raise ActionError(f"local_part: {local!r} is already another client's address", 409)
        row.local_part = None if not local or local == client.slug else local
    if "allowed_senders" in body:
        raw = body["allowed_senders"]
        items = raw.replace(",", "\n").splitlines() if isinstance(raw, str) else raw
        if not isinstance(items, list):
            raise ActionError("allowed_senders: a list of addresses and domains", 400)
        rules = []
        for item in items:
            if not str(item).strip():
                continue
            r = normalise_rule(str(item))
            if r is None:
                raise ActionError(f"allowed_senders: {str(item)[:80]!r} is neither an address nor a domain", 400)
            rules.append(r)
        row.allowed_senders = sorted(set(rules))
    if "unknown_senders" in body:
        if body["unknown_senders"] not in ("refuse", "hold"):
            raise ActionError("unknown_senders: refuse or hold", 400)
        row.unknown_senders = body["unknown_senders"]
    for name, low, high in (("reopen_days", 0, 365), ("rate_per_hour", 0, 10_000)):
        if name in body:
            try:
                value = int(body[name])
            except (TypeError, ValueError):
                raise ActionError(f"{name}: a whole number", 400) from None
            if not low <= value <= high:
                raise ActionError(f"{name}: between {low} and {high}", 400)
            setattr(row, name, value)
    if "enabled" in body:
        row.enabled = body["enabled"] in (True, "true", "on", "1", 1)
    if "default_service_id" in body:
        sid = body["default_service_id"]
        if sid in (None, ""):
            row.default_service_id = None
        else:
            svc = session.get(Service, int(sid)) if str(sid).isdigit() else None
            if svc is None or svc.client_id != client.id:
                raise ActionError("default_service_id: not a service of this client", 400)
            row.default_service_id = svc.id
    session.add(row)
    session.flush()
    forget_cached_keys()  # intake keeps each client's address and mail rules a few seconds
    audit.record(session, "client.mail_settings_changed", actor=actor, client_id=client.id, at=now,
                 target=f"client:{client.id}")
    return row


def held(session: Session, client_id: int) -> list[InboundMail]:
    return list(session.execute(
        select(InboundMail).where(InboundMail.client_id == client_id, InboundMail.status == "held")
        .order_by(InboundMail.id.desc()).limit(200)
    ).scalars())


def discard(session: Session, actor: User, client_id: int, mail_id: int, now: datetime) -> InboundMail:
    m = session.get(InboundMail, mail_id)
    if m is None or m.client_id != client_id or m.status != "held":
        raise ActionError("no such held message", 404)
    m.status, m.processed_at = "discarded", now
    audit.record(session, "mail.discarded", actor=actor, client_id=client_id, at=now, target=f"mail:{m.id}")
    return m


def of_incident(session: Session, incident_id: int) -> list[tuple[InboundMail, list[MailAttachment]]]:
    """An incident's messages with their attachments, oldest first (the incident screen)."""
    mails = list(session.execute(
        select(InboundMail).where(InboundMail.incident_id == incident_id).order_by(InboundMail.id)).scalars())
    atts = list(session.execute(
        select(MailAttachment).where(MailAttachment.incident_id == incident_id).order_by(MailAttachment.id)).scalars())
    return [(m, [a for a in atts if a.mail_id == m.id]) for m in mails]
