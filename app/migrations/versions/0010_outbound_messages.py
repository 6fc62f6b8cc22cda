"""outbound messages: notifications to people who are not users (a client's contacts), with
their address, subject, mail headers, client and once-only key; their attachments

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('address', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('subject', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('headers', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('client_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('once_key', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_notifications_client_id'), ['client_id'], unique=False)
        batch_op.create_unique_constraint(batch_op.f('uq_notifications_once_key'), ['once_key'])
        batch_op.create_foreign_key(batch_op.f('fk_notifications_client_id_clients'), 'clients', ['client_id'], ['id'],
                                    ondelete='CASCADE')
    op.create_table(
        'notification_attachments',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('notification_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('filename', sa.String(length=200), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'],
                                name=op.f('fk_notification_attachments_notification_id_notifications'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_attachments')),
    )
    with op.batch_alter_table('notification_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notification_attachments_notification_id'), ['notification_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('notification_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notification_attachments_notification_id'))
    op.drop_table('notification_attachments')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_notifications_client_id_clients'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_notifications_once_key'), type_='unique')
        batch_op.drop_index(batch_op.f('ix_notifications_client_id'))
        batch_op.drop_column('once_key')
        batch_op.drop_column('client_id')
        batch_op.drop_column('headers')
        batch_op.drop_column('subject')
        batch_op.drop_column('address')
        batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=False)
