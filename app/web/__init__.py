"""The web tier: the app's set-up, the views' request plumbing, HTTP security, OpenAPI, Markdown."""

from .app import init_app
from .httpsec import check_origin
from .plumbing import (
    ApiError,
    App,
    db_session,
    error_response,
    exempt,
    fail,
    json_body,
    now,
    optional_json_object,
    outcome_response,
    user,
    vigil,
)

__all__ = [
    "ApiError", "App", "check_origin", "db_session", "error_response", "exempt", "fail", "init_app", "json_body",
    "now", "optional_json_object", "outcome_response", "user", "vigil",
]
