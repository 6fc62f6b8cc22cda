"""HTTP-level security: who is asking (session cookie or API token), security headers on every
response, the WebSocket Origin check, and the cookie settings.

Bearer tokens are checked before anything else on /api/v1: a request that carries one is
authenticated by it alone (a bad token is a 401 even with a valid session cookie), needs the
scope its method or view asks for, skips the CSRF check (no cookie is involved: a browser never
adds an Authorization header by itself), and never sets a cookie.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Request, Response, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from ..accounts import tokens
from .plumbing import db_session, error_response, now

API_PREFIX = "/api/v1/"


def bearer_token() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def uses_token() -> bool:
    return g.get("api_token") is not None


class NoCookieForTokens(SecureCookieSessionInterface):
    """Token-authenticated requests never get a session cookie (nor refresh one)."""

    def should_set_cookie(self, app: Flask, session: Any) -> bool:
        if g.get("api_token") is not None or g.get("bearer_refused"):
            return False
        return super().should_set_cookie(app, session)


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss") or not parts.hostname:
        return None
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    port = parts.port or (443 if scheme == "https" else 80)
    return f"{scheme}://{parts.hostname.lower()}:{port}"


def check_origin(req: Request) -> bool:
    """For the WebSocket handshake (and anything else cookie-authenticated that a form cannot
    protect): the Origin header must be this site, as VIGIL_BASE_URL says or as the request's own
    host says. A missing or "null" Origin is refused: every browser sends one on a WebSocket."""
    origin = req.headers.get("Origin")
    if not origin or origin == "null":
        return False
    got = _origin_of(origin)
    if got is None:
        return False
    allowed = {_origin_of(current_app.config.get("BASE_URL") or ""), _origin_of(f"{req.scheme}://{req.host}")}
    return got in allowed


def csp(config: dict[str, Any]) -> str:
    base = urlsplit(config.get("BASE_URL") or "")
    ws = f" {'wss' if base.scheme == 'https' else 'ws'}://{base.netloc}" if base.netloc else ""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'{ws}; worker-src 'self'; manifest-src 'self'; frame-ancestors 'none'; "
        "base-uri 'self'; form-action 'self'; object-src 'none'"
    )


def authenticate() -> Response | None:
    """Who is asking, settled before the CSRF check and the view: an API token on /api/v1, or
    the session cookie (loaded now, so that its bookkeeping is committed before the view runs)."""
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or request.endpoint == "static":
        return None
    if getattr(view, "csrf_exempt", False) and not getattr(view, "token_scope", None):
        return None  # intake: integration keys, checked by the view (the hot path stays lean)
    plain = bearer_token() if request.path.startswith(API_PREFIX) else None
    if plain is not None:
        s = db_session()
        token = tokens.authenticate(s, plain, now(), request.remote_addr)
        if token is None:
            g.bearer_refused = True
            return error_response(401, "unknown, revoked or expired API token")
        need = tokens.required_scope(request.method, view)
        if need not in token.scope_set:
            g.bearer_refused = True
            return error_response(403, f"this API token does not have the {need} scope")
        g.api_token = token
        s.commit()  # its last-used time
        return None
    from flask_login import current_user

    current_user._get_current_object()
    s = g.get("db_session")
    if s is not None and (s.dirty or s.new):
        s.commit()
    return None


def init_app(app: Flask) -> None:
    """Runs before app.py registers its CSRF check, so that a token request is known by then."""
    if app.config.get("PROXY_COUNT"):
        n = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]
    app.session_interface = NoCookieForTokens()
    if app.config["SECURE_COOKIES"]:
        # __Host-: the browser only accepts it over HTTPS, for this exact host, path /.
        app.config["SESSION_COOKIE_NAME"] = "__Host-session"
    policy = csp(app.config)
    headers = {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "same-origin",
        "X-Content-Type-Options": "nosniff",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if app.config["SECURE_COOKIES"]:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    app.before_request(authenticate)

    @app.after_request
    def security_headers(response: Response) -> Response:
        have = response.headers
        for name, value in headers.items():
            if name not in have:  # (setdefault raises and catches a KeyError per header)
                have[name] = value
        if g.get("no_store"):
            response.headers["Cache-Control"] = "no-store"
        return response



def no_store() -> None:
    """This answer shows a secret (revealed connection info, a new token): never cache it."""
    g.no_store = True


