"""list_tabs: issue 12, the espace aidant's tabs (actifs / terminés / révoqués) read from the usager index

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 00:00:00

Each ``mandat_usager`` row summarises the usager's autorisations with the structure, kept by triggers on every
write of ``autorisation`` (creation, renewal, revocation, transfer, deletion) and on the row's own insertion:

* ``active_until``: the latest end of an unrevoked autorisation (NULL: none). "Active" depends on the time, so
  it is never stored as a flag: the tab compares ``active_until > now`` when it reads.
* ``has_replaced``: one autorisation was closed by a renewal (``revoked_reason = 'replaced'``).
* ``has_revocation``: one was revoked by the structure or the usager.

The tabs become conditions on the row the list already reads instead of EXISTS subqueries over millions of
autorisations. The SQL here is frozen with the revision (the models' module may change after it).
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

REVOCATIONS = "('revocation', 'usager')"

# --- PostgreSQL: one function recomputes a row; row triggers call it -------------------------------------------

POSTGRESQL_FUNCTIONS = [
    # The row is locked first, then summarised by a second statement: in READ COMMITTED that statement takes a
    # new snapshot, so a writer that waited for the lock counts the autorisations committed meanwhile.
    f"""CREATE FUNCTION mandat_usager_refresh(org integer, usager integer) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM mandat_usager WHERE organisation_id = org AND usager_id = usager FOR NO KEY UPDATE;
        IF NOT FOUND THEN
            RETURN;  -- not listed yet: the row's own insertion summarises it
        END IF;
        UPDATE mandat_usager AS mu
        SET active_until = s.active_until, has_replaced = s.has_replaced, has_revocation = s.has_revocation
        FROM (SELECT max(expires_at) FILTER (WHERE revoked_at IS NULL) AS active_until,
                     coalesce(bool_or(revoked_reason = 'replaced'), false) AS has_replaced,
                     coalesce(bool_or(revoked_reason IN {REVOCATIONS}), false) AS has_revocation
              FROM autorisation WHERE organisation_id = org AND usager_id = usager) AS s
        WHERE mu.organisation_id = org AND mu.usager_id = usager
          AND (mu.active_until IS DISTINCT FROM s.active_until OR mu.has_replaced <> s.has_replaced
               OR mu.has_revocation <> s.has_revocation);  -- unchanged: no new row version
    END $$""",
    """CREATE FUNCTION autorisation_summarise() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'DELETE' THEN
            PERFORM mandat_usager_refresh(NEW.organisation_id, NEW.usager_id);
        END IF;
        IF TG_OP = 'DELETE' OR (OLD.organisation_id, OLD.usager_id) IS DISTINCT FROM
                               (NEW.organisation_id, NEW.usager_id) THEN
            PERFORM mandat_usager_refresh(OLD.organisation_id, OLD.usager_id);
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION mandat_usager_summarise() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM mandat_usager_refresh(NEW.organisation_id, NEW.usager_id);
        RETURN NULL;
    END $$""",
]
POSTGRESQL_TRIGGERS = [
    """CREATE TRIGGER autorisation_summarise
       AFTER INSERT OR DELETE OR UPDATE OF organisation_id, usager_id, expires_at, revoked_at, revoked_reason
       ON autorisation FOR EACH ROW EXECUTE FUNCTION autorisation_summarise()""",
    """CREATE TRIGGER mandat_usager_summarise AFTER INSERT ON mandat_usager
       FOR EACH ROW EXECUTE FUNCTION mandat_usager_summarise()""",
]
POSTGRESQL_BACKFILL = f"""
    UPDATE mandat_usager AS mu
    SET active_until = s.active_until, has_replaced = s.has_replaced, has_revocation = s.has_revocation
    FROM (SELECT organisation_id, usager_id, max(expires_at) FILTER (WHERE revoked_at IS NULL) AS active_until,
                 coalesce(bool_or(revoked_reason = 'replaced'), false) AS has_replaced,
                 coalesce(bool_or(revoked_reason IN {REVOCATIONS}), false) AS has_revocation
          FROM autorisation GROUP BY organisation_id, usager_id) AS s
    WHERE mu.organisation_id = s.organisation_id AND mu.usager_id = s.usager_id
"""


# --- SQLite: the same summary, written by each trigger's body ---------------------------------------------------


def _sqlite_refresh(row: str) -> str:
    """The UPDATE that recomputes the summary of the (organisation, usager) of ``row``: NEW or OLD in a trigger,
    ``mandat_usager`` itself (every row) for the backfill. Unqualified columns are the autorisation's."""
    of_row = f"organisation_id = {row}.organisation_id AND usager_id = {row}.usager_id"
    where = "" if row == "mandat_usager" else f" WHERE {of_row}"
    return f"""UPDATE mandat_usager SET
            active_until = (SELECT max(expires_at) FROM autorisation WHERE {of_row} AND revoked_at IS NULL),
            has_replaced = EXISTS (SELECT 1 FROM autorisation WHERE {of_row} AND revoked_reason = 'replaced'),
            has_revocation = EXISTS (SELECT 1 FROM autorisation WHERE {of_row} AND revoked_reason IN {REVOCATIONS})
        {where};"""


SQLITE_TRIGGERS = [
    f"CREATE TRIGGER autorisation_summarise_insert AFTER INSERT ON autorisation BEGIN {_sqlite_refresh('NEW')} END",
    f"CREATE TRIGGER autorisation_summarise_delete AFTER DELETE ON autorisation BEGIN {_sqlite_refresh('OLD')} END",
    f"""CREATE TRIGGER autorisation_summarise_update
        AFTER UPDATE OF organisation_id, usager_id, expires_at, revoked_at, revoked_reason ON autorisation
        BEGIN {_sqlite_refresh('NEW')} {_sqlite_refresh('OLD')} END""",
    f"CREATE TRIGGER mandat_usager_summarise AFTER INSERT ON mandat_usager BEGIN {_sqlite_refresh('NEW')} END",
]
SQLITE_TRIGGER_NAMES = ["autorisation_summarise_insert", "autorisation_summarise_delete",
                        "autorisation_summarise_update", "mandat_usager_summarise"]

NAME_INDEX = "ix_mandat_usager_name"
NAME_COLUMNS = ["organisation_id", "name_key", "usager_id"]
REVOKED_INDEX = "ix_mandat_usager_revoked"


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("mandat_usager") as batch:
        batch.add_column(sa.Column("active_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("has_replaced", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("has_revocation", sa.Boolean(), server_default=sa.false(), nullable=False))
    if postgresql:
        op.execute(POSTGRESQL_BACKFILL)
        for statement in (*POSTGRESQL_FUNCTIONS, *POSTGRESQL_TRIGGERS):
            op.execute(statement)
        # The tabs filter the name order on the summary: read from the index alone (INCLUDE), and the
        # revoked (the rarest tab) from an index of their own.
        op.drop_index(NAME_INDEX, table_name="mandat_usager")
        op.create_index(NAME_INDEX, "mandat_usager", NAME_COLUMNS,
                        postgresql_include=["active_until", "has_replaced", "has_revocation"])
        op.create_index(REVOKED_INDEX, "mandat_usager", NAME_COLUMNS, postgresql_include=["active_until"],
                        postgresql_where=sa.text("has_revocation"))
        # The backfill rewrote every row: the trigram index's pending list holds them all (each search would
        # scan it) and the planner's statistics miss the new columns. Both are fixed here, in the transaction;
        # a VACUUM (mandat_usager) afterwards restores the index-only scans (it cannot run in a transaction).
        op.execute("SELECT gin_clean_pending_list('ix_mandat_usager_name_trgm')")
        op.execute("ANALYZE mandat_usager")
    else:
        op.execute(_sqlite_refresh("mandat_usager"))
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)
        op.create_index(REVOKED_INDEX, "mandat_usager", NAME_COLUMNS, sqlite_where=sa.text("has_revocation"))


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.drop_index(REVOKED_INDEX, table_name="mandat_usager")
    if postgresql:
        op.execute("DROP TRIGGER mandat_usager_summarise ON mandat_usager")
        op.execute("DROP TRIGGER autorisation_summarise ON autorisation")
        for function in ("mandat_usager_summarise()", "autorisation_summarise()",
                         "mandat_usager_refresh(integer, integer)"):
            op.execute(f"DROP FUNCTION {function}")
        op.drop_index(NAME_INDEX, table_name="mandat_usager")
        op.create_index(NAME_INDEX, "mandat_usager", NAME_COLUMNS)
    else:
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table("mandat_usager") as batch:
        batch.drop_column("has_revocation")
        batch.drop_column("has_replaced")
        batch.drop_column("active_until")
