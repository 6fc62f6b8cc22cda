"""acknowledgements that time out get an index of their own: the engine looks for those just
timed out at every tick, and PostgreSQL read them through every incident (a sequential scan
under LIMIT, or the status prefix of ix_incidents_due).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 14:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    where = "ack_timeout_at IS NOT NULL"
    op.create_index('ix_incidents_ack_timeout', 'incidents', ['status', 'ack_timeout_at'], unique=False,
                    postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def downgrade() -> None:
    op.drop_index('ix_incidents_ack_timeout', table_name='incidents')
