"""heartbeat monitors: per service, their ping ring

Revision ID: 0015
Revises: 0018
Create Date: 2026-12-04 21:31:43
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '0015'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('heartbeat_monitors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('token', sa.String(length=36), nullable=False),
    sa.Column('period_seconds', sa.Integer(), nullable=False),
    sa.Column('grace_seconds', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('cron', sa.String(length=120), nullable=True),
    sa.Column('state', sa.String(length=8), nullable=False),
    sa.Column('alerted', sa.Boolean(), nullable=False),
    sa.Column('alerted_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('alert_pending', sa.Boolean(), nullable=False),
    sa.Column('check_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('pings', sa.BigInteger(), nullable=False),
    sa.Column('last_ping_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('last_ping_kind', sa.String(length=8), nullable=True),
    sa.Column('last_start_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_heartbeat_monitors_service_id_services'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_heartbeat_monitors')),
    sa.UniqueConstraint('token', name=op.f('uq_heartbeat_monitors_token'))
    )
    with op.batch_alter_table('heartbeat_monitors', schema=None) as batch_op:
        batch_op.create_index('ix_heartbeat_monitors_check_at', ['check_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_heartbeat_monitors_service_id'), ['service_id'], unique=False)

    op.create_table('heartbeat_pings',
    sa.Column('monitor_id', sa.Integer(), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=8), nullable=False),
    sa.Column('at', app.db.UTCDateTime(), nullable=False),
    sa.Column('remote', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['monitor_id'], ['heartbeat_monitors.id'], name=op.f('fk_heartbeat_pings_monitor_id_heartbeat_monitors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('monitor_id', 'slot', name=op.f('pk_heartbeat_pings'))
    )



def downgrade() -> None:
    op.drop_table('heartbeat_pings')
    with op.batch_alter_table('heartbeat_monitors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_heartbeat_monitors_service_id'))
        batch_op.drop_index('ix_heartbeat_monitors_check_at')

    op.drop_table('heartbeat_monitors')

