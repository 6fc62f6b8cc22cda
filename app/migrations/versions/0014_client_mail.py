"""client e-mail: settings, inbound messages, attachments, threads

Revision ID: 0014
Revises: 0015
Create Date: 2026-12-04 21:33:02.907514
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db


revision = '0014'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('client_mail',
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('local_part', sa.String(length=64), nullable=True),
    sa.Column('allowed_senders', sa.JSON(), nullable=False),
    sa.Column('unknown_senders', sa.String(length=8), nullable=False),
    sa.Column('reopen_days', sa.Integer(), nullable=False),
    sa.Column('rate_per_hour', sa.Integer(), nullable=False),
    sa.Column('default_service_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_client_mail_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['default_service_id'], ['services.id'], name=op.f('fk_client_mail_default_service_id_services'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('client_id', name=op.f('pk_client_mail')),
    sa.UniqueConstraint('local_part', name=op.f('uq_client_mail_local_part'))
    )
    op.create_table('inbound_mails',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('received_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=True),
    sa.Column('service_id', sa.Integer(), nullable=True),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('mail_from', sa.String(length=320), nullable=False),
    sa.Column('sender', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=1024), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('verdict', sa.String(length=200), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('processed_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('parse_error', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('reply_to', sa.String(length=320), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['clients.id'], name=op.f('fk_inbound_mails_client_id_clients'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_inbound_mails_incident_id_incidents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['service_id'], ['services.id'], name=op.f('fk_inbound_mails_service_id_services'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_mails'))
    )
    with op.batch_alter_table('inbound_mails', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_mails_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_mails_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index('ix_inbound_mails_sender_received', ['sender', 'received_at'], unique=False)
        batch_op.create_index('ix_inbound_mails_status', ['status'], unique=False)

    op.create_table('mail_threads',
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('outbound', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_mail_threads_incident_id_incidents'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_mail_threads'))
    )
    with op.batch_alter_table('mail_threads', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_threads_incident_id'), ['incident_id'], unique=False)

    op.create_table('mail_attachments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('mail_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=127), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_mail_attachments_incident_id_incidents'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mail_id'], ['inbound_mails.id'], name=op.f('fk_mail_attachments_mail_id_inbound_mails'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_attachments'))
    )
    with op.batch_alter_table('mail_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_attachments_incident_id'), ['incident_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_attachments_mail_id'), ['mail_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('mail_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_attachments_mail_id'))
        batch_op.drop_index(batch_op.f('ix_mail_attachments_incident_id'))

    op.drop_table('mail_attachments')
    with op.batch_alter_table('mail_threads', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_threads_incident_id'))

    op.drop_table('mail_threads')
    with op.batch_alter_table('inbound_mails', schema=None) as batch_op:
        batch_op.drop_index('ix_inbound_mails_status')
        batch_op.drop_index('ix_inbound_mails_sender_received')
        batch_op.drop_index(batch_op.f('ix_inbound_mails_incident_id'))
        batch_op.drop_index(batch_op.f('ix_inbound_mails_client_id'))

    op.drop_table('inbound_mails')
    op.drop_table('client_mail')
