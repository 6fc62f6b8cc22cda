"""The installation's VAPID identity (RFC 8292): a P-256 key pair, generated on first need and
kept in the settings table, and the contact (`sub`) push services may write to.

The key is never regenerated silently: every browser subscription is bound to the public key it
was made with (its applicationServerKey), so a new key would orphan all of them, and the only
sign would be push services answering 403 from then on. An unreadable stored key is an error.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..models import Role, Setting, User

SETTING = "vapid_private_key"


class VapidError(Exception):
    pass


@dataclass(frozen=True)
class VapidKeys:
    signer: Vapid
    public_key: str  # base64url of the uncompressed P-256 point, unpadded: the PWA's applicationServerKey


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_or_create(session: Session, now: datetime) -> VapidKeys:
    """The key pair, created and stored if this installation has none yet."""
    row = session.get(Setting, SETTING)
    if row is None:
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        # Race: two processes starting at once. Insert-unless-present, then read back whichever
        # key won, so both use the same one.
        dialect = session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        session.execute(insert(Setting).values(key=SETTING, value=pem, created_at=now)
                        .on_conflict_do_nothing(index_elements=["key"]))
        row = session.execute(select(Setting).where(Setting.key == SETTING)
                              .execution_options(populate_existing=True)).scalar_one()
    return parse(row.value)


def parse(pem: str) -> VapidKeys:
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise TypeError("not a P-256 key")
        signer = Vapid(key)
        point = signer.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    except Exception as e:
        raise VapidError(
            f"the stored VAPID key (settings row {SETTING!r}) cannot be read ({type(e).__name__}); "
            "refusing to make a new one, which would orphan every push subscription"
        ) from None
    return VapidKeys(signer, b64url(point))


# --- the subject -----------------------------------------------------------------------------


def subject_problem(subject: str) -> str | None:
    """Why a VAPID subject would be refused, or None. Apple's push service rejects contacts at
    localhost or .local, and every service wants a mailto: or https: URL."""
    if subject.startswith("mailto:"):
        _, at, host = subject[len("mailto:"):].rpartition("@")
        if not at or not _ or not host:
            return "a mailto: subject needs an e-mail address, like mailto:oncall@example.com"
    elif subject.startswith("https://"):
        host = urlsplit(subject).hostname or ""
        if not host:
            return "an https: subject needs a host name"
    else:
        return "it must be a mailto: or https: URL, like mailto:oncall@example.com"
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith((".localhost", ".local")) or "." not in host:
        return f"push services (Apple's first) refuse a contact at {host!r}: use a real, public address"
    try:
        if not ipaddress.ip_address(host).is_global:
            return f"{host} is not a public address"
    except ValueError:
        pass
    return None


def check_settings(config: dict[str, Any]) -> None:
    """At start-up: a configured subject that push services would refuse stops the server, rather
    than every page to a phone failing later."""
    subject = config.get("VAPID_SUBJECT")
    if subject and (why := subject_problem(subject)):
        raise ValueError(f"VIGIL_VAPID_SUBJECT={subject!r} cannot be used: {why}.")


def subject_for(config: dict[str, Any], session: Session) -> str | None:
    """The configured subject, else the first admin's e-mail if push services would take it."""
    if config.get("VAPID_SUBJECT"):
        return str(config["VAPID_SUBJECT"])
    emails = session.execute(
        select(User.email).where(User.role == Role.admin.value, User.active).order_by(User.id).limit(5)
    ).scalars()
    for email in emails:
        if subject_problem(f"mailto:{email}") is None:
            return f"mailto:{email}"
    return None


MISSING_SUBJECT = (
    "Web Push is not configured on this server: set VIGIL_VAPID_SUBJECT to a contact push "
    "services can reach (mailto:oncall@your-company.com or https://your-company.com)"
)
