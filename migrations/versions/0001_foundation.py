"""foundation: organisations, aidants, devices, sessions, journal

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 07:47:44.730865
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


# The journal is append-only: the database itself refuses UPDATE, DELETE and TRUNCATE.
SQLITE_TRIGGERS = [
    """CREATE TRIGGER journal_entry_no_update BEFORE UPDATE ON journal_entry
       BEGIN SELECT RAISE(ABORT, 'journal_entry is append-only'); END""",
    """CREATE TRIGGER journal_entry_no_delete BEFORE DELETE ON journal_entry
       BEGIN SELECT RAISE(ABORT, 'journal_entry is append-only'); END""",
]
POSTGRESQL_TRIGGERS = [
    """CREATE FUNCTION journal_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'journal_entry is append-only'; END $$""",
    """CREATE TRIGGER journal_entry_no_update_delete BEFORE UPDATE OR DELETE ON journal_entry
       FOR EACH ROW EXECUTE FUNCTION journal_entry_append_only()""",
    """CREATE TRIGGER journal_entry_no_truncate BEFORE TRUNCATE ON journal_entry
       FOR EACH STATEMENT EXECUTE FUNCTION journal_entry_append_only()""",
]


def _create_journal_triggers() -> None:
    dialect = op.get_bind().dialect.name
    for statement in POSTGRESQL_TRIGGERS if dialect == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    op.create_table('dev_outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=300), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dev_outbox'))
    )
    with op.batch_alter_table('dev_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_dev_outbox_recipient'), ['recipient'], unique=False)

    op.create_table('journal_entry',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('actor_kind', sa.String(length=10), nullable=False),
    sa.Column('aidant_id', sa.Integer(), nullable=True),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('usager_id', sa.Integer(), nullable=True),
    sa.Column('mandat_id', sa.Integer(), nullable=True),
    sa.Column('autorisation_id', sa.Integer(), nullable=True),
    sa.Column('demarches', sa.String(length=200), nullable=True),
    sa.Column('client_id', sa.String(length=100), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_journal_entry')),
    sa.UniqueConstraint('hash', name=op.f('uq_journal_entry_hash'))
    )
    with op.batch_alter_table('journal_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_entry_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_entry_aidant_id'), ['aidant_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_entry_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_entry_mandat_id'), ['mandat_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_entry_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_journal_entry_usager_id'), ['usager_id'], unique=False)

    op.create_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=False),
    sa.Column('address', sa.String(length=300), nullable=False),
    sa.Column('zipcode', sa.String(length=10), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('kind', sa.String(length=50), nullable=False),
    sa.Column('allowed_demarches', sa.String(length=200), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation')),
    sa.UniqueConstraint('siret', name=op.f('uq_organisation_siret'))
    )
    op.create_table('throttle',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('blocked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_throttle'))
    )
    op.create_table('aidant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('first_name', sa.String(length=150), nullable=False),
    sa.Column('last_name', sa.String(length=150), nullable=False),
    sa.Column('profession', sa.String(length=150), nullable=False),
    sa.Column('phone', sa.String(length=30), nullable=False),
    sa.Column('current_organisation_id', sa.Integer(), nullable=True),
    sa.Column('can_create_mandats', sa.Boolean(), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('is_staff', sa.Boolean(), nullable=False),
    sa.Column('cgu_version', sa.String(length=20), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_logins', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['current_organisation_id'], ['organisation.id'], name=op.f('fk_aidant_current_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aidant')),
    sa.UniqueConstraint('email', name=op.f('uq_aidant_email'))
    )
    op.create_table('aidant_organisation',
    sa.Column('aidant_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['aidant_id'], ['aidant.id'], name=op.f('fk_aidant_organisation_aidant_id_aidant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_aidant_organisation_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('aidant_id', 'organisation_id', name=op.f('pk_aidant_organisation'))
    )
    op.create_table('aidant_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('aidant_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_active_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reauth_required', sa.Boolean(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['aidant_id'], ['aidant.id'], name=op.f('fk_aidant_session_aidant_id_aidant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aidant_session')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_aidant_session_token_hash'))
    )
    with op.batch_alter_table('aidant_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_aidant_session_aidant_id'), ['aidant_id'], unique=False)

    op.create_table('referent_organisation',
    sa.Column('aidant_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['aidant_id'], ['aidant.id'], name=op.f('fk_referent_organisation_aidant_id_aidant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_referent_organisation_organisation_id_organisation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('aidant_id', 'organisation_id', name=op.f('pk_referent_organisation'))
    )
    op.create_table('totp_device',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('serial_number', sa.String(length=64), nullable=True),
    sa.Column('aidant_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('retired_reason', sa.String(length=20), nullable=True),
    sa.Column('period', sa.Integer(), nullable=False),
    sa.Column('digits', sa.Integer(), nullable=False),
    sa.Column('seed_encrypted', sa.String(length=200), nullable=False),
    sa.Column('last_step', sa.BigInteger(), nullable=True),
    sa.Column('drift', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['aidant_id'], ['aidant.id'], name=op.f('fk_totp_device_aidant_id_aidant')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_totp_device')),
    sa.UniqueConstraint('serial_number', name=op.f('uq_totp_device_serial_number'))
    )
    with op.batch_alter_table('totp_device', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_totp_device_aidant_id'), ['aidant_id'], unique=False)

    op.create_table('login_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('aidant_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.Integer(), nullable=False),
    sa.Column('next_url', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['aidant_id'], ['aidant.id'], name=op.f('fk_login_link_aidant_id_aidant')),
    sa.ForeignKeyConstraint(['device_id'], ['totp_device.id'], name=op.f('fk_login_link_device_id_totp_device')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_link')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_login_link_token_hash'))
    )
    with op.batch_alter_table('login_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_link_aidant_id'), ['aidant_id'], unique=False)


    _create_journal_triggers()

def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER journal_entry_no_truncate ON journal_entry")
        op.execute("DROP TRIGGER journal_entry_no_update_delete ON journal_entry")
        op.execute("DROP FUNCTION journal_entry_append_only()")
    else:
        op.execute("DROP TRIGGER journal_entry_no_update")
        op.execute("DROP TRIGGER journal_entry_no_delete")
    with op.batch_alter_table('login_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_link_aidant_id'))

    op.drop_table('login_link')
    with op.batch_alter_table('totp_device', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_totp_device_aidant_id'))

    op.drop_table('totp_device')
    op.drop_table('referent_organisation')
    with op.batch_alter_table('aidant_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_aidant_session_aidant_id'))

    op.drop_table('aidant_session')
    op.drop_table('aidant_organisation')
    op.drop_table('aidant')
    op.drop_table('throttle')
    op.drop_table('organisation')
    with op.batch_alter_table('journal_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_entry_usager_id'))
        batch_op.drop_index(batch_op.f('ix_journal_entry_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_journal_entry_mandat_id'))
        batch_op.drop_index(batch_op.f('ix_journal_entry_created_at'))
        batch_op.drop_index(batch_op.f('ix_journal_entry_aidant_id'))
        batch_op.drop_index(batch_op.f('ix_journal_entry_action'))

    op.drop_table('journal_entry')
    with op.batch_alter_table('dev_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dev_outbox_recipient'))

    op.drop_table('dev_outbox')
