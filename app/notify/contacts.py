"""A person's ways of being reached: push subscriptions (one per device), phone numbers and
e-mail addresses, the rules saying which to use at which urgency and time of day, and test
notifications.
Validation lives here; every refusal is an ActionError with a reason."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import ActionError
from ..models import ContactMethod, Notification, NotificationRule, User
from .plan import DAY_MINUTES, DEFAULT_RULES, in_window

KINDS = ("push", "sms", "voice", "email")
MAX_METHODS = 30
MAX_DELAY_MINUTES = 60
TEST_EVERY = timedelta(seconds=30)  # an SMS or a call costs money: one test per method per 30 s
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+[1-9]\d{6,14}$")  # E.164


def mine(session: Session, user: User, method_id: int, kind: str | None = None) -> ContactMethod:
    m = session.get(ContactMethod, method_id)
    if m is None or m.user_id != user.id or (kind and m.kind != kind):
        raise ActionError("no such contact method", 404)
    return m


def _room(session: Session, user: User) -> None:
    if len(user.contact_methods) >= MAX_METHODS:
        raise ActionError(f"at most {MAX_METHODS} contact methods per person; remove one first", 409)


# --- push subscriptions -------------------------------------------------------------------------


def subscribe_push(session: Session, user: User, body: dict[str, Any], *, user_agent: str, now: datetime,
                   allow_loopback: bool) -> tuple[ContactMethod, bool]:
    """Store a browser's PushSubscription.toJSON(); the same endpoint again updates it.
    Returns (method, created)."""
    endpoint = check_endpoint(body.get("endpoint"), allow_loopback)
    keys = body.get("keys")
    if not isinstance(keys, dict):
        raise ActionError("keys must be an object with p256dh and auth", 400)
    p256dh, auth = _key(keys.get("p256dh"), "p256dh", 65), _key(keys.get("auth"), "auth", 16)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _b64(p256dh))
    except ValueError:
        raise ActionError("keys.p256dh is not a P-256 public key", 400) from None
    expiration = body.get("expirationTime")
    if expiration is not None and (isinstance(expiration, bool) or not isinstance(expiration, int | float)):
        raise ActionError("expirationTime must be null or a number", 400)
    label = _label(body.get("label")) or device_label(user_agent)
    found = session.execute(
        select(ContactMethod).where(ContactMethod.kind == "push", ContactMethod.address == endpoint)
    ).scalars().all()
    for m in found:
        if m.user_id != user.id:
            # The browser hands the same subscription to whoever is logged in on this device
            # now: the device's pages follow its current user, not the previous one.
            session.delete(m)
            continue
        m.push_p256dh, m.push_auth, m.user_agent = p256dh, auth, user_agent[:400] or None
        m.label = _label(body.get("label")) or m.label
        m.enabled, m.disabled_reason = True, None
        return m, False
    _room(session, user)
    m = ContactMethod(kind="push", address=endpoint, label=label, push_p256dh=p256dh, push_auth=auth,
                      user_agent=user_agent[:400] or None, created_at=now)
    user.contact_methods.append(m)
    session.flush()
    return m, True


def check_endpoint(endpoint: Any, allow_loopback: bool) -> str:
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 2048:
        raise ActionError("endpoint must be the push service URL (at most 2048 characters)", 400)
    try:
        u = urlsplit(endpoint)
        host = (u.hostname or "").lower()
    except ValueError:
        raise ActionError("endpoint is not a URL", 400) from None
    if not host or u.username or u.password:
        raise ActionError("endpoint must be the https URL of a push service", 400)
    if allow_loopback and host in LOOPBACK and u.scheme in ("http", "https"):
        return endpoint  # a local push service (tests, development)
    if u.scheme != "https":
        raise ActionError("endpoint must be an https URL", 400)
    try:
        public = ipaddress.ip_address(host).is_global
    except ValueError:
        public = host not in LOOPBACK and not host.endswith((".local", ".localhost", ".internal"))
    if not public:
        # The engine will POST to this URL: it must not be turned against our own network.
        raise ActionError("endpoint must be a public push service", 400)
    return endpoint


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(value: Any, name: str, size: int) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]+=*", value):
        raise ActionError(f"keys.{name} must be base64url", 400)
    value = value.rstrip("=")
    try:
        raw = _b64(value)
    except (binascii.Error, ValueError):
        raise ActionError(f"keys.{name} must be base64url", 400) from None
    if len(raw) != size:
        raise ActionError(f"keys.{name} must be {size} bytes, not {len(raw)}", 400)
    return value


def _label(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > 200:
        raise ActionError("label must be a string of at most 200 characters", 400)
    return value.strip()


def device_label(user_agent: str) -> str:
    ua = user_agent or ""
    system = next((name for key, name in (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
                                          ("Mac OS X", "Mac"), ("Windows", "Windows"), ("Linux", "Linux"))
                   if key in ua), "")
    browser = next((name for key, name in (("Firefox/", "Firefox"), ("Edg/", "Edge"), ("Chrome/", "Chrome"),
                                           ("Safari/", "Safari")) if key in ua), "")
    return f"{browser} on {system}" if browser and system else (browser or system or "this device")


# --- phones and e-mail ---------------------------------------------------------------------------


def add_method(session: Session, user: User, body: dict[str, Any], now: datetime) -> tuple[ContactMethod, bool]:
    kind, address = body.get("kind"), body.get("address")
    if kind not in ("sms", "voice", "email"):
        raise ActionError("kind must be sms, voice or email (push subscriptions come from the app)", 400)
    if not isinstance(address, str):
        raise ActionError("address is required", 400)
    if kind == "email":
        address = address.strip().lower()
        if not EMAIL_RE.match(address) or len(address) > 254:
            raise ActionError("that is not an e-mail address", 400)
    else:
        address = re.sub(r"[\s().-]", "", address)
        if not PHONE_RE.match(address):
            raise ActionError("the phone number must be in international form, like +33612345678", 400)
    label = _label(body.get("label"))
    for m in user.contact_methods:
        if m.kind == kind and m.address == address:
            m.label, m.enabled, m.disabled_reason = label or m.label, True, None
            return m, False
    _room(session, user)
    m = ContactMethod(kind=kind, address=address, label=label, created_at=now)
    user.contact_methods.append(m)
    session.flush()
    return m, True


def method_view(m: ContactMethod) -> dict[str, Any]:
    def iso(t: datetime | None) -> str | None:
        return t.isoformat() if t else None

    # A push endpoint is a capability URL: the host says enough.
    address = (urlsplit(m.address).hostname or "") if m.kind == "push" else m.address
    return {"id": m.id, "kind": m.kind, "address": address, "label": m.label, "user_agent": m.user_agent,
            "enabled": m.enabled, "disabled_reason": m.disabled_reason, "created_at": iso(m.created_at),
            "last_success_at": iso(m.last_success_at), "last_failure_at": iso(m.last_failure_at)}


# --- rules ------------------------------------------------------------------------------------------

MAX_RULES = 48
HHMM_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _minutes(value: Any, where: str) -> int:
    if not isinstance(value, str) or not HHMM_RE.match(value):
        raise ActionError(f"{where} must be a time of day like 08:00 or 22:30", 400)
    return int(value[:2]) * 60 + int(value[3:])


def hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _window(value: Any, where: str) -> tuple[int, int] | None:
    """A rule's time window, {"start": "22:00", "end": "08:00"} in the user's own zone (past
    midnight when end is before start), or None/absent for all day."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"start", "end"}:
        raise ActionError(f"{where} must be null or an object with start and end (HH:MM)", 400)
    start, end = _minutes(value.get("start"), f"{where}.start"), _minutes(value.get("end"), f"{where}.end")
    if start == end:
        raise ActionError(f"{where}: a window needs two different times (leave it out for all day)", 400)
    return start, end


def _spans(window: tuple[int, int]) -> set[int]:
    start, end = window
    return {m for m in range(DAY_MINUTES) if in_window(m, start, end)}


def check_rules(items: Any) -> list[tuple[str, str, int, int | None, int | None]]:
    """The rules as sent, checked: (urgency, kind, delay, window start, window end). Windows of
    one urgency are the same or do not overlap, so exactly one set of rules holds at any time."""
    if not isinstance(items, list) or len(items) > MAX_RULES:
        raise ActionError(f"rules must be a list of at most {MAX_RULES} {{urgency, kind, delay_minutes, window}}", 400)
    seen: set[tuple[str, tuple[int, int] | None, str]] = set()
    windows: dict[str, set[tuple[int, int]]] = {}
    rules = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ActionError(f"rules[{i}] must be an object", 400)
        urgency, kind, delay = item.get("urgency"), item.get("kind"), item.get("delay_minutes", 0)
        if urgency not in ("high", "low"):
            raise ActionError(f"rules[{i}].urgency must be high or low", 400)
        if kind not in KINDS:
            raise ActionError(f"rules[{i}].kind must be one of {', '.join(KINDS)}", 400)
        if isinstance(delay, bool) or not isinstance(delay, int) or not 0 <= delay <= MAX_DELAY_MINUTES:
            raise ActionError(f"rules[{i}].delay_minutes must be a whole number from 0 to {MAX_DELAY_MINUTES}", 400)
        window = _window(item.get("window"), f"rules[{i}].window")
        span = f" from {hhmm(window[0])} to {hhmm(window[1])}" if window else ""
        if (urgency, window, kind) in seen:
            raise ActionError(f"rules[{i}]: {kind} appears twice for {urgency} urgency{span}", 400)
        seen.add((urgency, window, kind))
        if window is not None and window not in windows.setdefault(urgency, set()):
            for other in windows[urgency]:
                if _spans(window) & _spans(other):
                    raise ActionError(f"rules[{i}]: the window{span} overlaps the one from {hhmm(other[0])} to "
                                      f"{hhmm(other[1])} ({urgency} urgency): windows must not overlap", 400)
            windows[urgency].add(window)
        rules.append((urgency, kind, delay, *(window or (None, None))))
    return rules


def set_rules(session: Session, user: User, items: Any) -> None:
    """Replace the rules. An urgency left without rules uses the defaults (plan.DEFAULT_RULES);
    at a time of day no window holds, the all-day rules apply (then the defaults)."""
    rules = check_rules(items)
    user.notification_rules.clear()
    session.flush()  # the old rows go before the new ones arrive
    user.notification_rules.extend(NotificationRule(urgency=u, kind=k, delay_minutes=d, window_start=a, window_end=b)
                                   for u, k, d, a, b in rules)
    session.flush()


def rules_view(user: User) -> dict[str, Any]:
    def order(r: NotificationRule) -> tuple[Any, ...]:
        return (r.urgency != "high", r.window_start is not None, r.window_start or 0,
                KINDS.index(r.kind) if r.kind in KINDS else 9)

    own = sorted(user.notification_rules, key=order)
    rules, defaults = [], {}
    for urgency in ("high", "low"):
        mine_ = [r for r in own if r.urgency == urgency]
        defaults[urgency] = not mine_
        for r in mine_:
            window = None if r.window_start is None or r.window_end is None else {
                "start": hhmm(r.window_start), "end": hhmm(r.window_end)}
            rules.append({"urgency": urgency, "kind": r.kind, "delay_minutes": r.delay_minutes, "window": window})
        if not mine_:
            rules += [{"urgency": urgency, "kind": k, "delay_minutes": d, "window": None}
                      for k, d in DEFAULT_RULES[urgency]]
    return {"rules": rules, "defaults": defaults, "timezone": user.timezone}


# --- test notifications ------------------------------------------------------------------------------


def queue_test(session: Session, user: User, method_id: int, now: datetime) -> Notification:
    """A test message to one contact method; the engine sends it and records the outcome."""
    m = mine(session, user, method_id)
    if not m.enabled:
        raise ActionError(f"this contact method is switched off: {m.disabled_reason or 'disabled'}", 409)
    recent = session.execute(
        select(Notification.created_at).where(Notification.contact_method_id == m.id, Notification.purpose == "test")
        .order_by(Notification.id.desc()).limit(1)
    ).scalar_one_or_none()
    if recent is not None and now - recent < TEST_EVERY:
        wait = int((TEST_EVERY - (now - recent)).total_seconds()) + 1
        raise ActionError(f"a test was sent to this contact method moments ago; try again in {wait} s", 429)
    n = Notification(incident_id=None, firing_id=None, user_id=user.id, contact_method_id=m.id, kind=m.kind,
                     purpose="test", status="pending", not_before=now, created_at=now)
    session.add(n)
    session.flush()
    return n


def queue_tests_for(session: Session, user: User, now: datetime, kinds: tuple[str, ...]) -> int:
    """A test to each enabled method of these kinds (a manager checking someone's phone), skipping
    those tested in the last TEST_EVERY. How many were queued."""
    sent = 0
    for m in user.contact_methods:
        if m.enabled and m.kind in kinds:
            try:
                queue_test(session, user, m.id, now)
            except ActionError:
                continue
            sent += 1
    return sent


def notification_view(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id, "kind": n.kind, "purpose": n.purpose, "status": n.status, "incident_id": n.incident_id,
        "contact_method_id": n.contact_method_id, "created_at": n.created_at.isoformat(),
        "sent_at": n.sent_at.isoformat() if n.sent_at else None, "last_error": n.last_error,
        "attempts": [{"started_at": a.started_at.isoformat(), "outcome": a.outcome, "status_code": a.status_code,
                      "latency_ms": a.latency_ms, "target": a.target, "error": a.error} for a in n.attempts_log],
    }
