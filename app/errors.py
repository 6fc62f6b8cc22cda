"""The refusals every domain raises: ActionError (an action refused, with the HTTP status to
answer) and Denied (who may see and do what, see access.py). The web tier turns both into
answers; they live here, at the bottom, so that any module can raise them."""

from __future__ import annotations

from typing import Any


class ActionError(Exception):
    """A refused action, with the HTTP status and a human reason."""

    def __init__(self, message: str, status: int = 400, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.data = data or {}


class Denied(Exception):
    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class EditError(ValueError):
    """A manager's change refused, with a message fit for the form (see accounts.people,
    incidents.policies)."""
