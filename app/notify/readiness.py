"""Which channels this server can use, in words (printed by `vigil demo`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from . import vapid


def describe(config: dict[str, Any], session: Session) -> list[str]:
    subject = vapid.subject_for(config, session)
    lines = [f"Web Push: ready, VAPID contact {subject}" if subject else f"Web Push: {vapid.MISSING_SUBJECT}"]
    if config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN") and config.get("TWILIO_FROM"):
        lines.append(f"SMS and voice: through {config.get('TWILIO_BASE_URL')} from {config['TWILIO_FROM']}")
    else:
        lines.append("SMS and voice: not configured (set VIGIL_TWILIO_ACCOUNT_SID, VIGIL_TWILIO_AUTH_TOKEN, "
                     "VIGIL_TWILIO_FROM); pages to phones fail with that reason")
    if config.get("SMTP_HOST") and config.get("SMTP_FROM"):
        lines.append(f"E-mail: through {config['SMTP_HOST']}:{config.get('SMTP_PORT', 587)}")
    else:
        lines.append("E-mail: not configured (set VIGIL_SMTP_HOST and VIGIL_SMTP_FROM)")
    return lines
