"""Which notification channels this server can use, for people (the notifications screen):
it promises only what is configured, and says who can set up the rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from . import vapid


@dataclass(frozen=True)
class Channel:
    key: str
    name: str
    ready: bool
    note: str


def channels(config: dict[str, Any], session: Session) -> list[Channel]:
    push = bool(vapid.subject_for(config, session))
    phone = bool(config.get("TWILIO_ACCOUNT_SID") and config.get("TWILIO_AUTH_TOKEN") and config.get("TWILIO_FROM"))
    mail = bool(config.get("SMTP_HOST") and config.get("SMTP_FROM"))
    admin = "not set up on this server: an admin sets {}"
    return [
        Channel("push", "This phone's lock screen (Web Push)", push,
                "available" if push else admin.format("VIGIL_VAPID_SUBJECT")),
        Channel("sms", "SMS", phone, "available" if phone else admin.format("the VIGIL_TWILIO_… settings")),
        Channel("voice", "Voice call", phone, "available" if phone else admin.format("the VIGIL_TWILIO_… settings")),
        Channel("email", "E-mail", mail, "available" if mail else admin.format("VIGIL_SMTP_HOST and VIGIL_SMTP_FROM")),
    ]


def sentence(found: list[Channel]) -> str:
    words = {"push": "this phone's lock screen", "sms": "SMS", "voice": "a voice call", "email": "e-mail"}
    names = [words[c.key] for c in found if c.ready]
    if not names:
        return "This server has no notification channel set up yet: ask an admin."
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return f"When you are on call, an incident reaches you on every channel this server has, at once: {listed}."
