"""The application's PostgreSQL role: everything it needs on every table, but on the journal's tables only
INSERT and SELECT; and, not being their owner, it can neither alter them nor drop their triggers.

Migrations run as the owner (the role that created the tables); the service runs as this role.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

#: The append-only tables: the application may add rows and read them, nothing else.
JOURNAL_TABLES = ("journal_entry", "journal_leaf", "journal_node", "journal_checkpoint")
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class RoleError(ValueError):
    """A role that cannot be set up (message in French)."""


def grant_app_role(connection: sa.Connection, name: str, password: str | None = None) -> list[str]:
    """Create (or update) the application role and grant it what it needs; the statements run.

    Idempotent: run it again after each migration (new tables and sequences are covered by default
    privileges too, but a new journal table must lose UPDATE and DELETE explicitly, as here).
    """
    if connection.dialect.name != "postgresql":
        raise RoleError("un rôle applicatif n'a de sens que sur PostgreSQL")
    if not _NAME.fullmatch(name):
        raise RoleError("nom de rôle invalide (lettres minuscules, chiffres et _ ; 63 caractères au plus)")
    owner = connection.execute(sa.text("SELECT current_user")).scalar_one()
    if name == owner:
        raise RoleError("le rôle applicatif doit être distinct du propriétaire des tables")
    database = connection.execute(sa.text("SELECT current_database()")).scalar_one()
    tables = set(sa.inspect(connection).get_table_names())
    journal = ", ".join(table for table in JOURNAL_TABLES if table in tables)
    statements = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{name}') "
        f"THEN CREATE ROLE {name} LOGIN; END IF; END $$",
        f"ALTER ROLE {name} NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS",
        f'GRANT CONNECT ON DATABASE "{database}" TO {name}',
        f"GRANT USAGE ON SCHEMA public TO {name}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {name}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {name}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {name}",
        f"REVOKE CREATE ON SCHEMA public FROM {name}",
    ]
    if "alembic_version" in tables:
        statements.append(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {name}")
    if journal:
        statements.append(f"REVOKE UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON {journal} FROM {name}")
    for statement in statements:
        connection.exec_driver_sql(statement)
    if password:
        command = connection.execute(sa.text("SELECT format('ALTER ROLE %I PASSWORD %L', :n, :p)"),
                                     {"n": name, "p": password}).scalar_one()
        connection.exec_driver_sql(command)
        statements.append(f"ALTER ROLE {name} PASSWORD '…'")
    return statements
