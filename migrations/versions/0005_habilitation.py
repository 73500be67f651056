"""habilitation

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 08:43:55.872368
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('habilitation_issuer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('first_name', sa.String(length=150), nullable=False),
    sa.Column('last_name', sa.String(length=150), nullable=False),
    sa.Column('profession', sa.String(length=150), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('email_confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_habilitation_issuer')),
    sa.UniqueConstraint('email', name=op.f('uq_habilitation_issuer_email'))
    )
    op.create_table('habilitation_issuer_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('issuer_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['issuer_id'], ['habilitation_issuer.id'], name=op.f('fk_habilitation_issuer_link_issuer_id_habilitation_issuer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_habilitation_issuer_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_habilitation_issuer_link_token_hash'))
    )
    with op.batch_alter_table('habilitation_issuer_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_habilitation_issuer_link_issuer_id'), ['issuer_id'], unique=False)

    op.create_table('habilitation_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('issuer_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('zipcode', sa.String(length=10), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('referent_first_name', sa.String(length=150), nullable=False),
    sa.Column('referent_last_name', sa.String(length=150), nullable=False),
    sa.Column('referent_email', sa.String(length=254), nullable=False),
    sa.Column('referent_phone', sa.String(length=30), nullable=False),
    sa.Column('referent_profession', sa.String(length=150), nullable=False),
    sa.Column('terms_version', sa.String(length=20), nullable=True),
    sa.Column('terms_accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['aidant.id'], name=op.f('fk_habilitation_request_decided_by_id_aidant')),
    sa.ForeignKeyConstraint(['issuer_id'], ['habilitation_issuer.id'], name=op.f('fk_habilitation_request_issuer_id_habilitation_issuer')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_habilitation_request_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_habilitation_request')),
    sa.UniqueConstraint('uuid', name=op.f('uq_habilitation_request_uuid'))
    )
    with op.batch_alter_table('habilitation_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_habilitation_request_issuer_id'), ['issuer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_habilitation_request_siret'), ['siret'], unique=False)
        batch_op.create_index(batch_op.f('ix_habilitation_request_status'), ['status'], unique=False)

    op.create_table('habilitation_aidant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('first_name', sa.String(length=150), nullable=False),
    sa.Column('last_name', sa.String(length=150), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('profession', sa.String(length=150), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('aidant_id', sa.Integer(), nullable=True),
    sa.Column('trained_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['aidant_id'], ['aidant.id'], name=op.f('fk_habilitation_aidant_aidant_id_aidant')),
    sa.ForeignKeyConstraint(['request_id'], ['habilitation_request.id'], name=op.f('fk_habilitation_aidant_request_id_habilitation_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_habilitation_aidant'))
    )
    with op.batch_alter_table('habilitation_aidant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_habilitation_aidant_request_id'), ['request_id'], unique=False)

    op.create_table('habilitation_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('author_kind', sa.String(length=10), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['aidant.id'], name=op.f('fk_habilitation_message_author_id_aidant')),
    sa.ForeignKeyConstraint(['request_id'], ['habilitation_request.id'], name=op.f('fk_habilitation_message_request_id_habilitation_request')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_habilitation_message'))
    )
    with op.batch_alter_table('habilitation_message', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_habilitation_message_request_id'), ['request_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('habilitation_message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_habilitation_message_request_id'))

    op.drop_table('habilitation_message')
    with op.batch_alter_table('habilitation_aidant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_habilitation_aidant_request_id'))

    op.drop_table('habilitation_aidant')
    with op.batch_alter_table('habilitation_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_habilitation_request_status'))
        batch_op.drop_index(batch_op.f('ix_habilitation_request_siret'))
        batch_op.drop_index(batch_op.f('ix_habilitation_request_issuer_id'))

    op.drop_table('habilitation_request')
    with op.batch_alter_table('habilitation_issuer_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_habilitation_issuer_link_issuer_id'))

    op.drop_table('habilitation_issuer_link')
    op.drop_table('habilitation_issuer')
