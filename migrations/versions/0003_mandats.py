"""mandats: signing keys, mandates, autorisations (one open per usager, structure and démarche), usager index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 08:02:43.373483
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signing_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('alg', sa.String(length=10), nullable=False),
    sa.Column('private_key_encrypted', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('publish_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sign_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retire_after', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_key')),
    sa.UniqueConstraint('kid', name=op.f('uq_signing_key_kid'))
    )
    with op.batch_alter_table('signing_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_key_alg'), ['alg'], unique=False)

    op.create_table('mandat_usager',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('usager_id', sa.Integer(), nullable=False),
    sa.Column('name_key', sa.String(length=520), nullable=False),
    sa.Column('since', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_mandat_usager_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['usager_id'], ['usager.id'], name=op.f('fk_mandat_usager_usager_id_usager')),
    sa.PrimaryKeyConstraint('organisation_id', 'usager_id', name=op.f('pk_mandat_usager'))
    )
    with op.batch_alter_table('mandat_usager', schema=None) as batch_op:
        batch_op.create_index('ix_mandat_usager_name', ['organisation_id', 'name_key', 'usager_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mandat_usager_usager_id'), ['usager_id'], unique=False)
    # Word-prefix search anywhere in a name: trigrams on PostgreSQL (pg_trgm), a plain index on SQLite.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    op.create_index('ix_mandat_usager_name_trgm', 'mandat_usager', ['name_key'], unique=False,
                    postgresql_using='gin', postgresql_ops={'name_key': 'gin_trgm_ops'})

    op.create_table('mandat',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uuid', sa.String(length=36), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('usager_id', sa.Integer(), nullable=False),
    sa.Column('aidant_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration', sa.String(length=10), nullable=False),
    sa.Column('template_version', sa.String(length=20), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.Column('request_key', sa.String(length=64), nullable=True),
    sa.Column('renewed_from_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['aidant_id'], ['aidant.id'], name=op.f('fk_mandat_aidant_id_aidant')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_mandat_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['renewed_from_id'], ['mandat.id'], name=op.f('fk_mandat_renewed_from_id_mandat')),
    sa.ForeignKeyConstraint(['usager_id'], ['usager.id'], name=op.f('fk_mandat_usager_id_usager')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mandat')),
    sa.UniqueConstraint('request_key', name=op.f('uq_mandat_request_key')),
    sa.UniqueConstraint('uuid', name=op.f('uq_mandat_uuid'))
    )
    with op.batch_alter_table('mandat', schema=None) as batch_op:
        batch_op.create_index('ix_mandat_organisation_usager', ['organisation_id', 'usager_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mandat_usager_id'), ['usager_id'], unique=False)

    op.create_table('autorisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mandat_id', sa.Integer(), nullable=False),
    sa.Column('demarche', sa.String(length=20), nullable=False),
    sa.Column('usager_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_reason', sa.String(length=20), nullable=True),
    sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['mandat_id'], ['mandat.id'], name=op.f('fk_autorisation_mandat_id_mandat'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_autorisation_organisation_id_organisation')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['aidant.id'], name=op.f('fk_autorisation_revoked_by_id_aidant')),
    sa.ForeignKeyConstraint(['usager_id'], ['usager.id'], name=op.f('fk_autorisation_usager_id_usager')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_autorisation')),
    sa.UniqueConstraint('mandat_id', 'demarche', name='uq_autorisation_mandat_demarche')
    )
    with op.batch_alter_table('autorisation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_autorisation_mandat_id'), ['mandat_id'], unique=False)
        batch_op.create_index('ix_autorisation_organisation_usager', ['organisation_id', 'usager_id', 'expires_at'], unique=False)
        batch_op.create_index('uq_autorisation_open', ['usager_id', 'organisation_id', 'demarche'], unique=True, sqlite_where=sa.text('revoked_at IS NULL AND replaced_at IS NULL'), postgresql_where=sa.text('revoked_at IS NULL AND replaced_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('autorisation', schema=None) as batch_op:
        batch_op.drop_index('uq_autorisation_open')
        batch_op.drop_index('ix_autorisation_organisation_usager')
        batch_op.drop_index(batch_op.f('ix_autorisation_mandat_id'))

    op.drop_table('autorisation')
    with op.batch_alter_table('mandat', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mandat_usager_id'))
        batch_op.drop_index('ix_mandat_organisation_usager')

    op.drop_table('mandat')
    op.drop_index('ix_mandat_usager_name_trgm', table_name='mandat_usager')
    with op.batch_alter_table('mandat_usager', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mandat_usager_usager_id'))
        batch_op.drop_index('ix_mandat_usager_name')

    op.drop_table('mandat_usager')
    with op.batch_alter_table('signing_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_key_alg'))

    op.drop_table('signing_key')