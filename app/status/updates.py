"""Public updates: what an engineer tells the client about an incident (investigating,
identified, monitoring, resolved), written apart from the internal timeline, which never
reaches the status page. Subscribers are told (through the engine)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from .. import access
from ..db import is_id
from ..errors import ActionError
from ..incidents.record import Actor, note
from ..live import events
from ..models import Incident, PublicUpdate, User
from ..models.status import UPDATE_STATES
from . import subscribers

MAX_BODY = 5000


def post(session: Session, actor: User, incident_id: int, fields: dict[str, Any], now: datetime,
         base_url: str, secret_key: str) -> PublicUpdate:
    inc = access.check_act_on_incident(session, actor, session.get(Incident, incident_id) if is_id(incident_id) else None)
    status = fields.get("status")
    if status not in UPDATE_STATES:
        raise ActionError(f"status is one of {', '.join(UPDATE_STATES)}", 400)
    body = fields.get("body")
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY:
        raise ActionError(f"body is the text the client reads, 1 to {MAX_BODY} characters", 400)
    title = fields.get("title") or None
    if title is not None and (not isinstance(title, str) or len(title) > 200):
        raise ActionError("title is text of at most 200 characters", 400)
    upd = PublicUpdate(public_id=secrets.token_urlsafe(9), incident_id=inc.id, client_id=inc.client_id, status=status,
                       title=title.strip() if title else None, body=body.strip(), author_id=actor.id, created_at=now)
    session.add(upd)
    session.flush()
    # The engineers' timeline says that the client was told, and what.
    note(session, inc, "public_update", Actor.of(actor), f"Public update ({status}): {upd.body}", now)
    events.publish(session, "status.update_posted", now=now, incident_id=inc.id, client_id=inc.client_id,
                   data={"update": upd.public_id, "status": status})
    subscribers.tell(session, inc.client_id, f"{status.capitalize()}: {upd.title or 'an incident'}", upd.body,
                     f"update:{upd.id}", now, base_url, secret_key)
    return upd
