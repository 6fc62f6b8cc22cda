"""hand-offs both ways: clients' contact chains and the hand-overs that walk them, shift starts
("I'm ready"), hand-off notes, their one-time links; notification rules by time window

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-04 18:36:33
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('client_contacts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('channels', sa.JSON(), nullable=False),
    sa.Column('hours', sa.JSON(), nullable=False),
    sa.Column('delay_minutes', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_contacts_client_id_clients'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_client_contacts'))
    )
    with op.batch_alter_table('client_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_client_contacts_client_id'), ['client_id'], unique=False)

    op.create_table('handoff_notes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('layer_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('for_start', app.db.UTCDateTime(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['users.id'], name=op.f('fk_handoff_notes_author_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['layer_id'], ['schedule_layers.id'], name=op.f('fk_handoff_notes_layer_id_schedule_layers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_notes'))
    )
    with op.batch_alter_table('handoff_notes', schema=None) as batch_op:
        batch_op.create_index('ix_handoff_notes_layer_start', ['layer_id', 'for_start'], unique=False)

    op.create_table('shift_starts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('layer_id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('previous_user_id', sa.Integer(), nullable=True),
    sa.Column('starts_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('ends_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('label', sa.String(length=300), nullable=False),
    sa.Column('found_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('unreachable_warned_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('notified_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('confirm_by', app.db.UTCDateTime(), nullable=True),
    sa.Column('ready_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('ready_via', sa.String(length=32), nullable=True),
    sa.Column('reported_at', app.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['layer_id'], ['schedule_layers.id'], name=op.f('fk_shift_starts_layer_id_schedule_layers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['previous_user_id'], ['users.id'], name=op.f('fk_shift_starts_previous_user_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'], name=op.f('fk_shift_starts_schedule_id_schedules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_shift_starts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shift_starts')),
    sa.UniqueConstraint('layer_id', 'starts_at', 'user_id', name=op.f('uq_shift_starts_layer_id'))
    )
    with op.batch_alter_table('shift_starts', schema=None) as batch_op:
        batch_op.create_index('ix_shift_starts_unconfirmed', ['ready_at', 'confirm_by'], unique=False)
        batch_op.create_index(batch_op.f('ix_shift_starts_user_id'), ['user_id'], unique=False)

    op.create_table('handovers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('started_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('chain', sa.JSON(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('started_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('taken_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('taken_by', sa.String(length=200), nullable=True),
    sa.Column('taken_contact', sa.String(length=200), nullable=True),
    sa.Column('exhausted_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('ended_at', app.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_handovers_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_handovers_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['started_by_id'], ['users.id'], name=op.f('fk_handovers_started_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handovers'))
    )
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.create_index('ix_handovers_due', ['next_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_handovers_incident_id'), ['incident_id'], unique=False)

    op.create_table('handoff_links',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('handover_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('shift_start_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('notification_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('contact', sa.String(length=300), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('expires_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('used_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('used_by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['handover_id'], ['handovers.id'], name=op.f('fk_handoff_links_handover_id_handovers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_handoff_links_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], name=op.f('fk_handoff_links_notification_id_notifications'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['shift_start_id'], ['shift_starts.id'], name=op.f('fk_handoff_links_shift_start_id_shift_starts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_handoff_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_handoff_links_token_hash'))
    )
    with op.batch_alter_table('handoff_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_handoff_links_handover_id'), ['handover_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_handoff_links_shift_start_id'), ['shift_start_id'], unique=False)

    with op.batch_alter_table('notification_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('window_start', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('window_end', sa.Integer(), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_notification_rules_user_id'), type_='unique')
        batch_op.create_index('ix_notification_rules_user', ['user_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('notification_rules', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_rules_user')
        batch_op.create_unique_constraint(batch_op.f('uq_notification_rules_user_id'), ['user_id', 'urgency', 'kind'])
        batch_op.drop_column('window_end')
        batch_op.drop_column('window_start')

    with op.batch_alter_table('handoff_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handoff_links_shift_start_id'))
        batch_op.drop_index(batch_op.f('ix_handoff_links_handover_id'))

    op.drop_table('handoff_links')
    with op.batch_alter_table('handovers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_handovers_incident_id'))
        batch_op.drop_index('ix_handovers_due')

    op.drop_table('handovers')
    with op.batch_alter_table('shift_starts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_shift_starts_user_id'))
        batch_op.drop_index('ix_shift_starts_unconfirmed')

    op.drop_table('shift_starts')
    with op.batch_alter_table('handoff_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_handoff_notes_layer_start')

    op.drop_table('handoff_notes')
    with op.batch_alter_table('client_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_client_contacts_client_id'))

    op.drop_table('client_contacts')
