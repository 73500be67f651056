"""usagers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 07:51:14.910791
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('usager',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sub', sa.String(length=64), nullable=False),
    sa.Column('given_name', sa.String(length=256), nullable=False),
    sa.Column('family_name', sa.String(length=256), nullable=False),
    sa.Column('preferred_username', sa.String(length=256), nullable=False),
    sa.Column('birthdate', sa.String(length=10), nullable=False),
    sa.Column('gender', sa.String(length=10), nullable=False),
    sa.Column('birthplace', sa.String(length=5), nullable=False),
    sa.Column('birthcountry', sa.String(length=5), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('search_name', sa.String(length=520), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_usager')),
    sa.UniqueConstraint('sub', name=op.f('uq_usager_sub'))
    )
    with op.batch_alter_table('usager', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_usager_search_name'), ['search_name'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('usager', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_usager_search_name'))

    op.drop_table('usager')
