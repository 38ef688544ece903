"""Database triggers that make a ledger append-only (来源可溯、防篡改): the audit trail, and the record of
each disclosure of an enterprise's data (engine/models/loans.py DisclosureRecord)."""

from __future__ import annotations

import sqlalchemy as sa

_MESSAGES = {"audit_event": "audit events are append-only", "disclosure_record": "disclosures are append-only"}


def statements_for(dialect: str, table: str = "audit_event") -> list[str]:
    """The statements that refuse UPDATE and DELETE on `table` (audit_event's names kept from 0002)."""
    message = _MESSAGES[table]
    if dialect == "sqlite":
        return [f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END",
                f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{message}'); END"]
    if dialect == "postgresql":
        return [f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger AS $$ "
                f"BEGIN RAISE EXCEPTION '{message}'; END; $$ LANGUAGE plpgsql",
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"]
    return []


def drop_statements_for(dialect: str, table: str = "audit_event") -> list[str]:
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]
    if dialect == "postgresql":
        return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
                f"DROP FUNCTION IF EXISTS {table}_append_only()"]
    return []


def install(table: sa.Table) -> None:
    """Create the triggers whenever the table is created with metadata.create_all."""
    for dialect in ("sqlite", "postgresql"):
        for statement in statements_for(dialect, table.name):
            sa.event.listen(table, "after_create", sa.DDL(statement).execute_if(dialect=dialect))
