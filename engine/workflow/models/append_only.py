"""Database triggers that make the audit trail append-only (来源可溯、防篡改)."""

from __future__ import annotations

import sqlalchemy as sa

SQLITE_STATEMENTS = [
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
    "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END",
]

POSTGRESQL_STATEMENTS = [
    "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit events are append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event "
    "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()",
]

DROP_STATEMENTS = {
    "sqlite": ["DROP TRIGGER IF EXISTS audit_event_no_update", "DROP TRIGGER IF EXISTS audit_event_no_delete"],
    "postgresql": ["DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event",
                   "DROP FUNCTION IF EXISTS audit_event_append_only()"],
}


def statements_for(dialect: str) -> list[str]:
    return {"sqlite": SQLITE_STATEMENTS, "postgresql": POSTGRESQL_STATEMENTS}.get(dialect, [])


def install(table: sa.Table) -> None:
    """Create the triggers whenever the table is created with metadata.create_all."""
    for dialect in ("sqlite", "postgresql"):
        for statement in statements_for(dialect):
            sa.event.listen(table, "after_create", sa.DDL(statement).execute_if(dialect=dialect))
