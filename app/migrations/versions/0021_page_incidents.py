"""page_incidents: a bundled page's incidents. In an alert storm one page per person and
contact method carries every incident of one engine look, each with its own step's firing.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 16:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'page_incidents',
        sa.Column('notification_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('firing_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'],
                                name=op.f('fk_page_incidents_notification_id_notifications'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'],
                                name=op.f('fk_page_incidents_incident_id_incidents'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['firing_id'], ['step_firings.id'],
                                name=op.f('fk_page_incidents_firing_id_step_firings'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('notification_id', 'incident_id', name=op.f('pk_page_incidents')),
    )
    op.create_index(op.f('ix_page_incidents_incident_id'), 'page_incidents', ['incident_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_page_incidents_incident_id'), table_name='page_incidents')
    op.drop_table('page_incidents')
