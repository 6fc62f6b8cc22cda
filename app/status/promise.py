"""The response promise as the client sees it: received, an engineer on it, the contract's
deadline and whether it was kept; for a period, the share kept. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Promise:
    received_at: datetime
    acknowledged_at: datetime | None
    deadline: datetime
    kept: bool | None  # None: not answered yet, the deadline still ahead
    waiting_on_client_since: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "received_at": self.received_at.isoformat(),
            "acknowledged_at": self.acknowledged_at.isoformat() if self.acknowledged_at else None,
            "response_deadline": self.deadline.isoformat(),
            "kept": self.kept,
            "waiting_on_your_team_since": self.waiting_on_client_since.isoformat() if self.waiting_on_client_since else None,
        }


def promise_of(created_at: datetime, responded_at: datetime | None, deadline: datetime, now: datetime,
               waiting_since: datetime | None = None) -> Promise:
    """`responded_at` is the first human action (acknowledge, claim, hand-over, resolve)."""
    if responded_at is not None:
        kept: bool | None = responded_at <= deadline
    else:
        kept = False if now > deadline else None
    return Promise(created_at, responded_at, deadline, kept, waiting_since)


@dataclass(frozen=True)
class Share:
    kept: int
    decided: int

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.kept / self.decided, 1) if self.decided else None

    def as_dict(self) -> dict[str, Any]:
        return {"kept": self.kept, "decided": self.decided, "percent": self.percent}


def share_kept(promises: Iterable[Promise]) -> Share:
    decided = [p.kept for p in promises if p.kept is not None]
    return Share(sum(1 for k in decided if k), len(decided))
