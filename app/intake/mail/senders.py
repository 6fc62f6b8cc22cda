"""Who may open incidents by e-mail, and what never may (pure decisions, plus one count).

- Automatic messages (a null sender, Auto-Submitted, Precedence bulk/list/junk, X-Autoreply,
  list headers, delivery reports) are loops in the making: accepted and recorded, never an
  incident, never answered.
- A client's allowed senders are addresses and domains. The From header's address and the
  envelope sender must both be allowed: a header forged to an allowed address, sent from
  elsewhere, is an unknown sender. Unknown senders are refused (550 5.7.1) or held for review,
  as the client chose.
- A per-sender rate limit (messages an hour, per client, automatic ones included): above it the
  sender is told to try later (451 4.7.1; its server keeps the message and retries, so nothing
  is lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...models import ClientMail, InboundMail
from ..keys import cached
from .parse import address, automatic

DEFAULTS: dict[str, Any] = {"enabled": True, "local_part": None, "allowed_senders": [], "unknown_senders": "hold",
                            "reopen_days": 7, "rate_per_hour": 30, "default_service_id": None}


@dataclass(frozen=True)
class Rules:
    allowed_senders: tuple[str, ...]
    unknown_senders: str  # refuse | hold
    reopen_days: int
    rate_per_hour: int


def rules_of(session: Session, client_id: int) -> Rules:
    """A client's mail rules, kept a few seconds (intake.keys.cached; forgotten at once in the
    process that saves them): read for every message, twice."""
    return cached(session, f"mail-rules:{client_id}", lambda: _rules_of(session, client_id))  # type: ignore[no-any-return]


def _rules_of(session: Session, client_id: int) -> Rules:
    row = session.get(ClientMail, client_id)
    v = {k: getattr(row, k) for k in DEFAULTS} if row is not None else DEFAULTS
    return Rules(tuple(v["allowed_senders"] or ()), v["unknown_senders"], int(v["reopen_days"]), int(v["rate_per_hour"]))


def normalise_rule(rule: str) -> str | None:
    """'ops@acme.fr' (an address), '@acme.fr' or 'acme.fr' (a domain) -> canonical, or None."""
    r = rule.strip().lower()
    if not r or " " in r or len(r) > 254:
        return None
    if "@" in r[1:]:
        return r if r.count("@") == 1 else None
    r = r.lstrip("@")
    return "@" + r if "." in r else None


def allowed(rules: tuple[str, ...], addr: str) -> bool:
    if not addr:
        return False
    domain = "@" + addr.rpartition("@")[2]
    return any(r == addr or r == domain for r in rules)


@dataclass(frozen=True)
class Decision:
    status: str  # received | held | loop | refused | deferred
    code: int  # SMTP reply code (250 for what is accepted)
    text: str
    verdict: str = ""

    @property
    def accepted(self) -> bool:
        return self.code == 250


def decide(session: Session, client_id: int, client_name: str, mail_from: str | None, headers: Any,
           now: datetime) -> Decision:
    """What happens to a message for this client, from its envelope and headers only (it is
    decided before DATA is answered)."""
    rules = rules_of(session, client_id)
    sender = address(str(headers.get("From") or "")) or address(mail_from or "")
    # The rate first: a storm of auto-replies is recorded up to the limit, then deferred.
    if rules.rate_per_hour > 0 and sender:
        recent = session.execute(
            select(func.count()).select_from(InboundMail)
            .where(InboundMail.sender == sender, InboundMail.client_id == client_id,
                   InboundMail.received_at > now - timedelta(hours=1))
        ).scalar_one()
        if recent >= rules.rate_per_hour:
            return Decision("deferred", 451, f"4.7.1 Too many messages from {sender} this hour "
                            f"(at most {rules.rate_per_hour}); try again later")
    why = automatic(headers, mail_from)
    if why is not None:
        return Decision("loop", 250, "2.0.0 Recorded; automatic messages never open incidents", why)
    envelope = address(mail_from or "")
    if allowed(rules.allowed_senders, sender) and (not envelope or allowed(rules.allowed_senders, envelope)
                                                    or envelope.rpartition("@")[2] == sender.rpartition("@")[2]):
        return Decision("received", 250, "2.0.0 Accepted: an incident will be opened")
    who = sender or "this sender"
    forged = allowed(rules.allowed_senders, sender)
    reason = (f"the From address {sender} was sent from {envelope}, which is not allowed" if forged
              else f"{who} is not an allowed sender for {client_name}")
    if rules.unknown_senders == "refuse":
        return Decision("refused", 550, f"5.7.1 {reason}; ask your service provider to add it", reason)
    return Decision("held", 250, "2.0.0 Accepted and held for review: " + reason, reason)
