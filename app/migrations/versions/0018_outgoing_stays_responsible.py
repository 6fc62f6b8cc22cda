"""shift_starts.outgoing_stays: the outgoing engineer is paged with the incoming one until the
incoming one confirms (when the team chose to tell them and their start was not confirmed in time)

Revision ID: 0018
Revises: 0013
Create Date: 2026-12-04 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shift_starts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outgoing_stays', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table('shift_starts', schema=None) as batch_op:
        batch_op.drop_column('outgoing_stays')
