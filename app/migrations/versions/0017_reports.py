"""reports: post-mortems, the clients' report contacts, the indexes the reports read by

Revision ID: 0017
Revises: 0014
Create Date: 2026-12-04 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '0017'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('postmortems',
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('impact', sa.Text(), nullable=False),
    sa.Column('root_cause', sa.Text(), nullable=False),
    sa.Column('went_well', sa.Text(), nullable=False),
    sa.Column('follow_ups', sa.Text(), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_postmortems_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_postmortems_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('incident_id', name=op.f('pk_postmortems'))
    )
    op.create_table('report_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_report_contacts_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_contacts')),
    sa.UniqueConstraint('client_id', 'email', name=op.f('uq_report_contacts_client_id'))
    )
    op.create_index(op.f('ix_report_contacts_client_id'), 'report_contacts', ['client_id'], unique=False)
    op.create_index('ix_incidents_created', 'incidents', ['created_at'], unique=False)
    op.create_index('ix_incidents_acknowledged_by', 'incidents', ['acknowledged_by_id', 'created_at'], unique=False)
    op.create_index('ix_timeline_kind_incident', 'timeline_entries', ['kind', 'incident_id'], unique=False)
    op.create_index('ix_notifications_user_created', 'notifications', ['user_id', 'created_at'], unique=False)
    op.create_index('ix_alerts_source', 'alerts', ['source'], unique=False)
    op.create_index('ix_incidents_client_status', 'incidents', ['client_id', 'status'], unique=False)
    op.create_index('ix_notifications_kind_status', 'notifications', ['kind', 'status'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_notifications_kind_status', table_name='notifications')
    op.drop_index('ix_incidents_client_status', table_name='incidents')
    op.drop_index('ix_alerts_source', table_name='alerts')
    op.drop_index('ix_notifications_user_created', table_name='notifications')
    op.drop_index('ix_timeline_kind_incident', table_name='timeline_entries')
    op.drop_index('ix_incidents_acknowledged_by', table_name='incidents')
    op.drop_index('ix_incidents_created', table_name='incidents')
    op.drop_index(op.f('ix_report_contacts_client_id'), table_name='report_contacts')
    op.drop_table('report_contacts')
    op.drop_table('postmortems')
