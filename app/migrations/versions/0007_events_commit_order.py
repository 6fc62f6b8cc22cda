"""events: on PostgreSQL, final event ids are drawn inside COMMIT by a deferred trigger (it
replaces an advisory lock the application took before its last statements)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 15:30:00
"""

from __future__ import annotations

from alembic import op

from app.models.core import EVENTS_ORDER_FUNCTION, EVENTS_ORDER_TRIGGER

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(EVENTS_ORDER_FUNCTION)
        op.execute(EVENTS_ORDER_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS events_commit_order ON events')
        op.execute('DROP FUNCTION IF EXISTS vigil_events_commit_order()')
