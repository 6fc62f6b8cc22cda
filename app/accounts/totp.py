"""The optional second factor: TOTP (RFC 6238, 30-second codes, as in any authenticator app).

The secret is stored encrypted (app/clients/crypto.py). A code is accepted for the current step
and one step either side (phone clocks drift), and never twice: the last accepted step is kept, so
a code seen over a shoulder is useless once used. Losing the phone is recovered by an admin
(a password reset that removes the second factor).
"""

from __future__ import annotations

import base64
import hmac
import io
from datetime import datetime

import pyotp
import qrcode
import qrcode.image.svg
from sqlalchemy.orm import Session

from .. import audit
from ..clients.crypto import SecretError, Vault
from ..models import Role, Setting, User

ISSUER = "Vigil"
REQUIRED_SETTING = "totp_required_roles"
STAFF_ROLES = (Role.engineer.value, Role.manager.value, Role.admin.value)


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, the RFC's recommended size


def provisioning_uri(secret: str, user: User) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_data_url(uri: str) -> str:
    """The otpauth:// URI as an SVG QR code in a data: URL (the CSP allows data: images)."""
    img = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


def _match(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The time step `code` belongs to (current, or one either side), if later than `after`."""
    code = "".join(code.split())
    if not (code.isdecimal() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in (current, current - 1, current + 1):
        if (after is None or step > after) and hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def enabled(user: User) -> bool:
    return user.totp_secret is not None


def verify(session: Session, vault: Vault, user: User, code: str, now: datetime) -> bool:
    if user.totp_secret is None:
        return False
    try:
        secret = vault.decrypt_text(user.totp_secret)
    except SecretError:
        return False
    step = _match(secret, code, now, user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    return True


def enable(session: Session, vault: Vault, user: User, secret: str, code: str, now: datetime) -> bool:
    """Turn the factor on once the user proves their app produces the right codes."""
    step = _match(secret, code, now, None)
    if step is None:
        return False
    user.totp_secret = vault.encrypt_text(secret)
    user.totp_enabled_at = now
    user.totp_last_step = step
    audit.record(session, "totp.enabled", actor=user, at=now, target=f"user:{user.id}")
    return True


def disable(session: Session, user: User, by: User | str, now: datetime) -> None:
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    audit.record(session, "totp.disabled", actor=by, at=now, target=f"user:{user.id}", user=user.email)


def required_roles(session: Session) -> set[str]:
    row = session.get(Setting, REQUIRED_SETTING)
    return {r for r in (row.value.split(",") if row else []) if r in STAFF_ROLES}


def required_for(session: Session, user: User) -> bool:
    return user.role in required_roles(session)


def set_required_roles(session: Session, by: User, roles: set[str], now: datetime) -> None:
    roles = {r for r in roles if r in STAFF_ROLES}
    before = required_roles(session)
    row = session.get(Setting, REQUIRED_SETTING)
    value = ",".join(sorted(roles))
    if row is None:
        session.add(Setting(key=REQUIRED_SETTING, value=value, created_at=now))
    else:
        row.value = value
    if roles != before:
        audit.record(session, "settings.changed", actor=by, at=now, target=f"setting:{REQUIRED_SETTING}",
                     before=sorted(before), after=sorted(roles))
