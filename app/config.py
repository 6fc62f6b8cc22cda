"""Every setting, read from the environment with safe defaults.

Secrets may also come from `<NAME>_FILE` (Docker/Kubernetes secrets). Tests pass a dict to
`create_app(config)` that overrides these.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # the code's folder: static files, templates, the worker


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    if value is None and (path := os.environ.get(f"{name}_FILE")):
        value = Path(path).read_text().strip()
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = env(name)
    return default if value is None else int(value)


def env_float(name: str, default: float) -> float:
    value = env(name)
    return default if value is None else float(value)


def load() -> dict[str, Any]:
    # The data (SQLite file, generated secrets) lives in the working directory's instance/, never
    # beside the code: installed, that is site-packages, which an upgrade may wipe; editable, two
    # checkouts sharing one virtualenv would share one database.
    instance = Path(env("VIGIL_INSTANCE_PATH", "instance") or "instance").resolve()
    return {
        "INSTANCE_PATH": str(instance),
        "SECRET_KEY": env("VIGIL_SECRET_KEY"),  # generated and kept in the instance folder if unset
        "DATABASE_URL": env("VIGIL_DATABASE_URL", f"sqlite:///{instance / 'vigil.db'}"),
        "REDIS_URL": env("VIGIL_REDIS_URL"),
        "BASE_URL": env("VIGIL_BASE_URL", "http://127.0.0.1:8000"),
        # "process": the escalation loop runs as its own `vigil engine` process (the default, see
        # README); "inline": every web process also runs it (safe: work is claimed atomically).
        "ENGINE_MODE": env("VIGIL_ENGINE", "process"),
        "ENGINE_POLL_SECONDS": env_float("VIGIL_ENGINE_POLL_SECONDS", 0.2),
        "ENGINE_STALE_SECONDS": env_int("VIGIL_ENGINE_STALE_SECONDS", 30),
        "ENGINE_WORKERS": env_int("VIGIL_ENGINE_WORKERS", 16),
        "EVENT_POLL_SECONDS": env_float("VIGIL_EVENT_POLL_SECONDS", 0.25),
        # The live tier (README, "Live updates"): sockets one web process holds at most (keep
        # gunicorn's --worker-connections above it), and how often it reads the engine's health.
        "WS_MAX_PER_WORKER": env_int("VIGIL_WS_MAX_PER_WORKER", 8000),
        "WS_HEALTH_SECONDS": env_float("VIGIL_WS_HEALTH_SECONDS", 5.0),
        "MAX_CONTENT_LENGTH": env_int("VIGIL_MAX_BODY_BYTES", 1024 * 1024),
        "SESSION_DAYS": env_int("VIGIL_SESSION_DAYS", 14),
        "SECURE_COOKIES": env_bool("VIGIL_SECURE_COOKIES", False),
        "PASSWORD_PROFILE": env("VIGIL_PASSWORD_PROFILE", "RFC_9106_LOW_MEMORY"),
        # Schedules: how often the engine looks for coming gaps, and how far ahead it looks.
        "SCHEDULE_CHECK_SECONDS": env_int("VIGIL_SCHEDULE_CHECK_SECONDS", 300),
        "SCHEDULE_WARN_DAYS": env_int("VIGIL_SCHEDULE_WARN_DAYS", 14),
        # Hand-offs (see README, "Hand-offs"): the client's contact chain, and shift starts.
        "HANDOVER_CHECK_SECONDS": env_int("VIGIL_HANDOVER_CHECK_SECONDS", 10),
        "HANDOVER_LINK_HOURS": env_float("VIGIL_HANDOVER_LINK_HOURS", 72.0),
        "SHIFT_CHECK_SECONDS": env_int("VIGIL_SHIFT_CHECK_SECONDS", 30),
        "HANDOFF_CONFIRM_MINUTES": env_int("VIGIL_HANDOFF_CONFIRM_MINUTES", 15),
        "HANDOFF_TELL_OUTGOING": env_bool("VIGIL_HANDOFF_TELL_OUTGOING", True),
        "UNREACHABLE_DAYS": env_int("VIGIL_UNREACHABLE_DAYS", 7),
        "UNREACHABLE_WARN_HOURS": env_int("VIGIL_UNREACHABLE_WARN_HOURS", 24),
        "READY_LINK_HOURS": env_float("VIGIL_READY_LINK_HOURS", 12.0),
        # Heartbeats (see README, "Heartbeats"): how often the engine looks for late or failed ones.
        "HEARTBEAT_CHECK_SECONDS": env_float("VIGIL_HEARTBEAT_CHECK_SECONDS", 1.0),
        # Security (see README, "Security").
        "ENCRYPTION_KEY": env("VIGIL_ENCRYPTION_KEY"),  # Fernet key(s); generated into the instance folder if unset
        "ENCRYPTION_KEY_FILE": os.environ.get("VIGIL_ENCRYPTION_KEY_FILE"),  # re-read when a secret does not decrypt
        "PROXY_COUNT": env_int("VIGIL_PROXY_COUNT", 0),  # reverse proxies in front: trust their X-Forwarded-*
        "LOGIN_MAX_FAILURES": env_int("VIGIL_LOGIN_MAX_FAILURES", 5),  # per account, then a lockout
        "LOGIN_MAX_FAILURES_PER_IP": env_int("VIGIL_LOGIN_MAX_FAILURES_PER_IP", 20),
        "LOGIN_LOCK_MINUTES": env_int("VIGIL_LOGIN_LOCK_MINUTES", 15),
        # /metrics: answered with this token (Authorization: Bearer), or from these addresses
        # (comma-separated networks; loopback by default). See README, "Reports".
        "METRICS_TOKEN": env("VIGIL_METRICS_TOKEN"),
        "METRICS_ALLOW": env("VIGIL_METRICS_ALLOW", "127.0.0.0/8,::1/128"),
        # How often the engine looks whether a monthly client report is due (see README, "Reports").
        "MONTHLY_REPORT_CHECK_SECONDS": env_int("VIGIL_MONTHLY_REPORT_CHECK_SECONDS", 600),
        **notifications(),
        **mail(),
    }


def mail() -> dict[str, Any]:
    """Client e-mail (see README, "Client e-mail"): the SMTP listener is off without a domain."""
    return {
        "MAIL_DOMAIN": env("VIGIL_MAIL_DOMAIN"),  # clients write to <client slug>@<this>
        "MAIL_HOST": env("VIGIL_MAIL_HOST", "0.0.0.0"),
        "MAIL_PORT": env_int("VIGIL_MAIL_PORT", 2525),
        "MAIL_MAX_BYTES": env_int("VIGIL_MAIL_MAX_BYTES", 25 * 1024 * 1024),  # announced as SIZE; above: 552
        "MAIL_TLS_CERT": env("VIGIL_MAIL_TLS_CERT"),  # STARTTLS when given (PEM; the key in it or in _KEY)
        "MAIL_TLS_KEY": env("VIGIL_MAIL_TLS_KEY"),
        "MAIL_ATTACHMENT_MAX_BYTES": env_int("VIGIL_MAIL_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024),  # kept up to this
        "MAIL_SWEEP_SECONDS": env_int("VIGIL_MAIL_SWEEP_SECONDS", 15),
        "MAIL_SHARED_PORT": env_bool("VIGIL_MAIL_SHARED_PORT", False),  # several `vigil mail` on one port
    }


def notifications() -> dict[str, Any]:
    """Channels (see README, "Notifications"). A channel left unconfigured is not skipped: its
    pages fail with a reason saying what to set."""
    return {
        # Web Push. The subject is the contact push services may write to (Apple refuses
        # localhost and .local); unset, the first admin's e-mail is used if it qualifies.
        "VAPID_SUBJECT": env("VIGIL_VAPID_SUBJECT"),
        # Hours, not 0 (pywebpush's default): a phone in a tunnel still gets the page later.
        "PUSH_TTL_SECONDS": env_int("VIGIL_PUSH_TTL_SECONDS", 4 * 3600),
        "PUSH_TIMEOUT_SECONDS": env_float("VIGIL_PUSH_TIMEOUT_SECONDS", 10.0),
        # Plain-http push endpoints on 127.0.0.1/localhost (tests, local push services only).
        "PUSH_ALLOW_LOOPBACK": env_bool("VIGIL_PUSH_ALLOW_LOOPBACK", False),
        # Status pages' webhooks (status/webhooks.py): http and addresses of private networks
        # allowed (a chat server on your own network; tests); and how long one POST may take.
        "STATUS_WEBHOOK_ALLOW_PRIVATE": env_bool("VIGIL_STATUS_WEBHOOK_ALLOW_PRIVATE", False),
        "STATUS_WEBHOOK_TIMEOUT_SECONDS": env_float("VIGIL_STATUS_WEBHOOK_TIMEOUT_SECONDS", 10.0),
        # SMS and voice: any provider speaking Twilio's REST API.
        "TWILIO_BASE_URL": env("VIGIL_TWILIO_BASE_URL", "https://api.twilio.com"),
        "TWILIO_ACCOUNT_SID": env("VIGIL_TWILIO_ACCOUNT_SID"),
        "TWILIO_AUTH_TOKEN": env("VIGIL_TWILIO_AUTH_TOKEN"),
        "TWILIO_FROM": env("VIGIL_TWILIO_FROM"),
        "TWILIO_TIMEOUT_SECONDS": env_float("VIGIL_TWILIO_TIMEOUT_SECONDS", 10.0),
        # E-mail over SMTP (submission port with STARTTLS by default).
        "SMTP_HOST": env("VIGIL_SMTP_HOST"),
        "SMTP_PORT": env_int("VIGIL_SMTP_PORT", 587),
        "SMTP_STARTTLS": env_bool("VIGIL_SMTP_STARTTLS", True),
        "SMTP_USERNAME": env("VIGIL_SMTP_USERNAME"),
        "SMTP_PASSWORD": env("VIGIL_SMTP_PASSWORD"),
        "SMTP_FROM": env("VIGIL_SMTP_FROM"),
        "SMTP_TIMEOUT_SECONDS": env_float("VIGIL_SMTP_TIMEOUT_SECONDS", 10.0),
        "SMTP_CA_FILE": env("VIGIL_SMTP_CA_FILE"),  # a private CA for the mail server, if any
        # Acknowledgement links must outlive a night on a lock screen.
        "ACK_LINK_HOURS": env_float("VIGIL_ACK_LINK_HOURS", 24.0),
        # An alert storm: pages due at once to one contact method for this many incidents or more,
        # in one look of the engine, go as one page listing them (notify/plan.bundle); 0: never.
        "PAGE_BUNDLE_AT": env_int("VIGIL_PAGE_BUNDLE_AT", 3),
        # ...and such a page for a call or an SMS waits until the last one to that number is this
        # many seconds old, later looks adding their incidents to it (notify/plan.PACED); 0: never.
        "STORM_PAGE_PACE_SECONDS": env_float("VIGIL_STORM_PAGE_PACE_SECONDS", 60.0),
    }
