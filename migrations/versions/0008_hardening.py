"""hardening: issue 8 (scopes per client, the session in ID tokens, login links bound to a browser)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Clients registered before scopes were per client keep what they could ask for; `aidants clients
#: set-scopes` narrows them.
EVERY_SCOPE = ("openid profile email birth given_name family_name birthdate gender birthplace birthcountry "
               "preferred_username")


def upgrade() -> None:
    with op.batch_alter_table("oidc_client") as batch:
        batch.add_column(sa.Column("allowed_scopes", sa.String(length=300), nullable=True))
    op.execute(sa.text("UPDATE oidc_client SET allowed_scopes = :every").bindparams(every=EVERY_SCOPE))
    with op.batch_alter_table("oidc_client") as batch:
        batch.alter_column("allowed_scopes", existing_type=sa.String(length=300), nullable=False)
    with op.batch_alter_table("oidc_authorization") as batch:
        batch.add_column(sa.Column("sid", sa.String(length=64), nullable=True))
    with op.batch_alter_table("login_link") as batch:
        batch.add_column(sa.Column("browser_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("login_link") as batch:
        batch.drop_column("browser_hash")
    with op.batch_alter_table("oidc_authorization") as batch:
        batch.drop_column("sid")
    with op.batch_alter_table("oidc_client") as batch:
        batch.drop_column("allowed_scopes")
