"""Who an address on our mail domain is: `resolve(session, address, domain)`.

Two kinds: a client's address, `<local>@domain` (the client's chosen local part, or its slug),
`<local>+<service>@domain` choosing one of its services; and a heartbeat monitor's ping address,
`hb-<uuid>@domain` (intake/heartbeats.py), where any mail is a ping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ...models import Client, ClientMail, Service, Setting
from .. import heartbeats
from ..keys import cached, forget

# `vigil demo` turns the listener on by storing a domain here (VIGIL_MAIL_DOMAIN wins over it).
DOMAIN_SETTING = "mail_domain"
DEMO_DOMAIN = "mail.vigil.localhost"


@dataclass(frozen=True)
class Recipient:
    kind: str  # "client" or "heartbeat"
    address: str
    client_id: int | None = None
    service_id: int | None = None
    refusal: str | None = None  # why mail to this address is refused (None: it is accepted)
    token: str | None = None  # a heartbeat monitor's
    client_name: str = ""  # for the answers that name the client


def configured_domain(session: Session, config: dict[str, object]) -> str | None:
    """Our mail domain: VIGIL_MAIL_DOMAIN, else the one `vigil demo` stored, else None (off)."""
    if config.get("MAIL_DOMAIN"):
        return str(config["MAIL_DOMAIN"]).lower()
    row = session.get(Setting, DOMAIN_SETTING)
    return row.value if row is not None else None


def service_slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def local_part_of(client: Client, settings: ClientMail | None) -> str:
    return (settings.local_part if settings and settings.local_part else client.slug).lower()


def resolve(session: Session, address: str, domain: str) -> Recipient | None:
    """The recipient behind `address`, or None when nobody is (refused at RCPT with 550)."""
    addr = address.strip().strip("<>").lower()
    local, at, dom = addr.rpartition("@")
    if not at or dom != domain.lower() or not local:
        return None
    if local.startswith("hb-"):
        monitor = heartbeats.monitor_for_local_part(session, local)
        return Recipient("heartbeat", addr, token=monitor.token) if monitor is not None else None
    base, _, tag = local.partition("+")
    return _client(session, addr, base, tag)


def resolve_cached(session: Session, address: str, domain: str) -> Recipient | None:
    """resolve, kept a few seconds (intake.keys.cached): every RCPT asks, a burst of client mail
    asks hundreds of times a second. Only an address that resolves is kept: one created a moment
    ago (a new heartbeat monitor, a client's new address) is never refused for a stale answer."""
    addr = address.strip().strip("<>").lower()
    name = f"rcpt:{domain.lower()}:{addr}"
    found = cached(session, name, lambda: resolve(session, addr, domain))
    if found is None:
        forget(session, name)
    return found  # type: ignore[no-any-return]


def _client(session: Session, addr: str, base: str, tag: str) -> Recipient | None:
    row = session.execute(
        select(Client, ClientMail).outerjoin(ClientMail, ClientMail.client_id == Client.id)
        .where(or_(ClientMail.local_part == base, (Client.slug == base) & ClientMail.local_part.is_(None)))
    ).first()
    if row is None:
        return None
    client, settings = row
    if settings is not None and not settings.enabled:
        return Recipient("client", addr, client.id, refusal=f"e-mail to {client.name} is turned off", client_name=client.name)
    services = list(session.execute(select(Service).where(Service.client_id == client.id).order_by(Service.id)).scalars())
    if tag:
        chosen = next((s for s in services if service_slug(s.name) == tag or str(s.id) == tag), None)
        if chosen is None:
            return None  # an unknown service is an unknown address: 550, never a guess
    else:
        default = settings.default_service_id if settings else None
        chosen = next((s for s in services if s.id == default), services[0] if services else None)
        if chosen is None:
            return Recipient("client", addr, client.id, refusal=f"{client.name} has no service to open incidents on",
                             client_name=client.name)
    return Recipient("client", addr, client.id, chosen.id, client_name=client.name)
