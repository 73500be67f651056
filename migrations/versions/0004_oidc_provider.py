"""oidc provider

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 08:07:14.810187
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('oidc_client',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=True),
    sa.Column('auth_method', sa.String(length=30), nullable=False),
    sa.Column('redirect_uris', sa.Text(), nullable=False),
    sa.Column('post_logout_redirect_uris', sa.Text(), nullable=False),
    sa.Column('id_token_alg', sa.String(length=10), nullable=False),
    sa.Column('userinfo_alg', sa.String(length=10), nullable=True),
    sa.Column('act_claim', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_client')),
    sa.UniqueConstraint('client_id', name=op.f('uq_oidc_client_client_id'))
    )
    op.create_table('oidc_authorization',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('client_pk', sa.Integer(), nullable=False),
    sa.Column('redirect_uri', sa.String(length=500), nullable=False),
    sa.Column('scope', sa.String(length=300), nullable=False),
    sa.Column('nonce', sa.String(length=200), nullable=True),
    sa.Column('code_challenge', sa.String(length=128), nullable=True),
    sa.Column('code_challenge_method', sa.String(length=10), nullable=True),
    sa.Column('aidant_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('usager_id', sa.Integer(), nullable=False),
    sa.Column('autorisation_id', sa.Integer(), nullable=False),
    sa.Column('demarche', sa.String(length=20), nullable=False),
    sa.Column('auth_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['aidant_id'], ['aidant.id'], name=op.f('fk_oidc_authorization_aidant_id_aidant')),
    sa.ForeignKeyConstraint(['autorisation_id'], ['autorisation.id'], name=op.f('fk_oidc_authorization_autorisation_id_autorisation')),
    sa.ForeignKeyConstraint(['client_pk'], ['oidc_client.id'], name=op.f('fk_oidc_authorization_client_pk_oidc_client')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_oidc_authorization_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['usager_id'], ['usager.id'], name=op.f('fk_oidc_authorization_usager_id_usager')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_authorization')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_oidc_authorization_code_hash'))
    )
    with op.batch_alter_table('oidc_authorization', schema=None) as batch_op:
        batch_op.create_index('ix_oidc_authorization_client_nonce', ['client_pk', 'nonce'], unique=False)
        batch_op.create_index(batch_op.f('ix_oidc_authorization_client_pk'), ['client_pk'], unique=False)

    op.create_table('oidc_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('authorization_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['authorization_id'], ['oidc_authorization.id'], name=op.f('fk_oidc_token_authorization_id_oidc_authorization')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_oidc_token_token_hash'))
    )
    with op.batch_alter_table('oidc_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_token_authorization_id'), ['authorization_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('oidc_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_token_authorization_id'))

    op.drop_table('oidc_token')
    with op.batch_alter_table('oidc_authorization', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_authorization_client_pk'))
        batch_op.drop_index('ix_oidc_authorization_client_nonce')

    op.drop_table('oidc_authorization')
    op.drop_table('oidc_client')
