"""journal: issue 12 / 8.20-21 (journal sequencer, Merkle tree, checkpoints)

Requests now only insert their entry (``seq`` becomes an insertion id the database assigns; ``txid`` is
the inserting transaction on PostgreSQL); the sequencer writes the tree (``journal_leaf``, ``journal_node``)
and signed checkpoints (``journal_checkpoint``). The hash chain columns go: entries already written are
integrated by the sequencer's first run, in ``seq`` order. All four tables refuse UPDATE, DELETE, TRUNCATE.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:00:00
"""

import datetime as dt
import hashlib
import json

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

NEW_TABLES = ("journal_leaf", "journal_node", "journal_checkpoint")
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SQLITE_ENTRY_TRIGGERS = [
    """CREATE TRIGGER journal_entry_no_update BEFORE UPDATE ON journal_entry
       BEGIN SELECT RAISE(ABORT, 'journal_entry is append-only'); END""",
    """CREATE TRIGGER journal_entry_no_delete BEFORE DELETE ON journal_entry
       BEGIN SELECT RAISE(ABORT, 'journal_entry is append-only'); END""",
]


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _append_only(table: str) -> None:
    if _postgresql():
        op.execute(f"""CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
                       FOR EACH ROW EXECUTE FUNCTION journal_append_only()""")
        op.execute(f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                       FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only()""")
    else:
        for verb in ("update", "delete"):
            op.execute(f"""CREATE TRIGGER {table}_no_{verb} BEFORE {verb.upper()} ON {table}
                           BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END""")


def upgrade() -> None:
    if _postgresql():
        op.execute("ALTER TABLE journal_entry ADD COLUMN txid BIGINT NOT NULL DEFAULT 0")
        op.execute("ALTER TABLE journal_entry ALTER COLUMN txid DROP DEFAULT")
        op.drop_constraint("uq_journal_entry_hash", "journal_entry", type_="unique")
        op.drop_column("journal_entry", "prev_hash")
        op.drop_column("journal_entry", "hash")
        # What BIGSERIAL would have made: the database numbers entries, never the application.
        op.execute("CREATE SEQUENCE journal_entry_seq_seq OWNED BY journal_entry.seq")
        op.execute("SELECT setval('journal_entry_seq_seq', COALESCE(MAX(seq), 0) + 1, false) FROM journal_entry")
        op.execute("ALTER TABLE journal_entry ALTER COLUMN seq SET DEFAULT nextval('journal_entry_seq_seq')")
        op.execute("""CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                      BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$""")
    else:
        # SQLite rebuilds the table to drop a unique column; the rebuild drops its triggers, put back after.
        with op.batch_alter_table("journal_entry", recreate="always") as batch_op:
            batch_op.drop_constraint("uq_journal_entry_hash", type_="unique")
            batch_op.drop_column("prev_hash")
            batch_op.drop_column("hash")
            batch_op.add_column(sa.Column("txid", sa.BigInteger(), nullable=False, server_default="0"))
        with op.batch_alter_table("journal_entry", recreate="always") as batch_op:
            batch_op.alter_column("txid", server_default=None, existing_type=sa.BigInteger(), existing_nullable=False)
        for statement in SQLITE_ENTRY_TRIGGERS:
            op.execute(statement)
    op.create_index(op.f("ix_journal_entry_txid"), "journal_entry", ["txid"], unique=False)

    op.create_table(
        "journal_leaf",
        sa.Column("leaf_index", BIGINT, autoincrement=False, nullable=False),
        sa.Column("entry_seq", sa.BigInteger(), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name=op.f("pk_journal_leaf")),
        sa.UniqueConstraint("entry_seq", name=op.f("uq_journal_leaf_entry_seq")),
    )
    op.create_table(
        "journal_node",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_journal_node")),
    )
    op.create_table(
        "journal_checkpoint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("txid_floor", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_checkpoint")),
    )
    op.create_index(op.f("ix_journal_checkpoint_created_at"), "journal_checkpoint", ["created_at"], unique=False)
    op.create_index(op.f("ix_journal_checkpoint_tree_size"), "journal_checkpoint", ["tree_size"], unique=False)
    for table in NEW_TABLES:
        _append_only(table)


def _chain_rows() -> list[dict[str, object]]:
    """The pre-0009 hash chain over the entries as they stand (gaps in seq stay gaps)."""
    fields = ("seq", "created_at", "action", "actor_kind", "aidant_id", "organisation_id", "usager_id",
              "mandat_id", "autorisation_id", "demarches", "client_id", "extra")
    table = sa.table("journal_entry", *(sa.column(name) for name in fields[:-1]), sa.column("extra", sa.JSON))
    table.c.created_at.type = sa.DateTime(timezone=True)
    prev, found = "0" * 64, []
    for row in op.get_bind().execute(sa.select(table).order_by(table.c.seq)).mappings():
        data = dict(row)
        created = data["created_at"]
        if isinstance(created, str):
            created = dt.datetime.fromisoformat(created)
        if created.tzinfo is None:
            created = created.replace(tzinfo=dt.UTC)
        data["created_at"] = created.isoformat(timespec="microseconds")
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
        digest = hashlib.sha256(prev.encode() + b"\n" + canonical).hexdigest()
        found.append({"s": row["seq"], "p": prev, "h": digest})
        prev = digest
    return found


def downgrade() -> None:
    for table in reversed(NEW_TABLES):
        op.drop_table(table)  # their triggers go with them
    op.drop_index(op.f("ix_journal_entry_txid"), table_name="journal_entry")
    chain = _chain_rows()
    if _postgresql():
        op.execute("DROP FUNCTION journal_append_only()")
        op.execute("ALTER TABLE journal_entry ALTER COLUMN seq DROP DEFAULT")
        op.execute("DROP SEQUENCE journal_entry_seq_seq")
        op.add_column("journal_entry", sa.Column("prev_hash", sa.String(length=64), nullable=True))
        op.add_column("journal_entry", sa.Column("hash", sa.String(length=64), nullable=True))
        if chain:
            op.execute("ALTER TABLE journal_entry DISABLE TRIGGER USER")
            op.get_bind().execute(sa.text("UPDATE journal_entry SET prev_hash = :p, hash = :h WHERE seq = :s"), chain)
            op.execute("ALTER TABLE journal_entry ENABLE TRIGGER USER")
        op.alter_column("journal_entry", "prev_hash", nullable=False)
        op.alter_column("journal_entry", "hash", nullable=False)
        op.create_unique_constraint("uq_journal_entry_hash", "journal_entry", ["hash"])
        op.drop_column("journal_entry", "txid")
        return
    op.execute("DROP TRIGGER journal_entry_no_update")
    op.execute("DROP TRIGGER journal_entry_no_delete")
    with op.batch_alter_table("journal_entry") as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    if chain:
        op.get_bind().execute(sa.text("UPDATE journal_entry SET prev_hash = :p, hash = :h WHERE seq = :s"), chain)
    with op.batch_alter_table("journal_entry", recreate="always") as batch_op:
        batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("hash", existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint("uq_journal_entry_hash", ["hash"])
        batch_op.drop_column("txid")
    for statement in SQLITE_ENTRY_TRIGGERS:
        op.execute(statement)
