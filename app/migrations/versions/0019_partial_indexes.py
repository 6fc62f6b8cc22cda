"""partial indexes: pages are indexed by client and by once_key only when they have one;
incidents by who acknowledged them only when someone did (every version of a row is an entry in
each index that holds it, and a page is written and updated once or twice). And the response
deadlines still to watch get an index of their own (the engine looked through every open
incident for them at each tick).

Revision ID: 0019
Revises: 0016
Create Date: 2026-12-06 12:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0016'
branch_labels = None
depends_on = None


def _where(clause: str) -> dict[str, sa.TextClause]:
    return {"postgresql_where": sa.text(clause), "sqlite_where": sa.text(clause)}


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint('uq_notifications_once_key', type_='unique')
        batch_op.drop_index('ix_notifications_client_id')
    op.create_index('uq_notifications_once_key', 'notifications', ['once_key'], unique=True,
                    **_where("once_key IS NOT NULL"))
    op.create_index('ix_notifications_client_id', 'notifications', ['client_id'], unique=False,
                    **_where("client_id IS NOT NULL"))
    op.drop_index('ix_incidents_acknowledged_by', table_name='incidents')
    op.create_index('ix_incidents_acknowledged_by', 'incidents', ['acknowledged_by_id', 'created_at'], unique=False,
                    **_where("acknowledged_by_id IS NOT NULL"))
    op.create_index('ix_incidents_deadline', 'incidents', ['status', 'response_deadline'], unique=False,
                    **_where("sla_breached_at IS NULL"))


def downgrade() -> None:
    op.drop_index('ix_incidents_deadline', table_name='incidents')
    op.drop_index('ix_incidents_acknowledged_by', table_name='incidents')
    op.create_index('ix_incidents_acknowledged_by', 'incidents', ['acknowledged_by_id', 'created_at'], unique=False)
    op.drop_index('ix_notifications_client_id', table_name='notifications')
    op.drop_index('uq_notifications_once_key', table_name='notifications')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_client_id', ['client_id'], unique=False)
        batch_op.create_unique_constraint('uq_notifications_once_key', ['once_key'])
