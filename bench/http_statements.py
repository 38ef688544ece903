"""SQL statements per API lifecycle with Idempotency-Keys, counted at the database driver.

The requests run in-process through Flask's test client on the same app the servers run (the WSGI
server adds no statements); every statement the app sends to the database is counted, transaction
control included (SQLite's BEGIN IMMEDIATE; on PostgreSQL the driver begins implicitly). The
lifecycle is the HTTP bench's: submit, accept, decide, disburse, settle, each POST with a new key.
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from bench.http_api import POSTGRES_BENCH_URL, _ids, _prepare_database, _reset_postgres_database


def count_statements(url: str, lifecycles: int = 5) -> dict[str, float]:
    """Statements per lifecycle, averaged over `lifecycles` (each takes the same path through the shipped model)."""
    token, key = _prepare_database(url)
    institution_id, product_id = _ids(url)
    from web import create_app

    app = create_app({"DATABASE_URL": url, "SCHEDULER_ENABLED": False, "LOAD_DEMO_DATA": False})
    client = app.test_client()
    bind = app.extensions["engine"].session_factory.kw["bind"]
    counted: list[str] = []

    transactions: list[int] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counted.append(statement)

    def begin(conn: Any) -> None:
        transactions.append(1)

    def post(secret: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(path, json=body, headers={"Authorization": f"Bearer {secret}",
                                                         "Idempotency-Key": uuid.uuid4().hex})
        if response.status_code >= 400:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.get_json()}")
        return response.get_json()

    def lifecycle() -> None:
        now = datetime.now(UTC)
        reference = post(token, "/api/v1/applications", {
            "institution_id": institution_id, "product_id": product_id, "amount": "100000.00",
            "term_months": 12, "purpose": "bench", "authorization": {
                "scope": "credit report", "granted_by": "bench", "granted_at": now.isoformat(),
                "expires_at": (now + timedelta(days=30)).isoformat()}})["reference"]
        today = now.astimezone(timezone(timedelta(hours=8))).date().isoformat()
        base = f"/api/v1/applications/{reference}"
        post(key, f"{base}/accept", {})
        post(key, f"{base}/decision", {"decision": "approve", "amount": "100000.00", "annual_rate": "3.85",
                                       "term_months": 12})
        post(key, f"{base}/disbursement", {"contract_number": "HT", "amount": "100000.00", "disbursed_on": today})
        post(key, f"{base}/settlement", {"settled_on": today})

    for _ in range(3):
        lifecycle()  # warm caches (model, calendar, definitions)
    sa.event.listen(bind, "before_cursor_execute", count)
    sa.event.listen(bind, "begin", begin)
    try:
        for _ in range(lifecycles):
            lifecycle()
    finally:
        sa.event.remove(bind, "before_cursor_execute", count)
        sa.event.remove(bind, "begin", begin)
        bind.dispose()
    transaction_control = sum(1 for statement in counted if statement.split(None, 1)[0].upper() == "BEGIN")
    return {"statements": len(counted) / lifecycles, "transaction_control": transaction_control / lifecycles,
            "transactions": len(transactions) / lifecycles}


def measure() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = count_statements(f"sqlite:///{Path(tmp) / 'statements.db'}")
    _reset_postgres_database()
    postgres = count_statements(POSTGRES_BENCH_URL)
    return {
        "http_statements_per_lifecycle": f"{sqlite['statements']:.0f}",
        "http_statements_per_lifecycle_without_begin": f"{sqlite['statements'] - sqlite['transaction_control']:.0f}",
        "http_statements_per_lifecycle_pg": f"{postgres['statements']:.0f}",
        "http_transactions_per_lifecycle_pg": f"{postgres['transactions']:.1f}",
    }


if __name__ == "__main__":
    for name, value in measure().items():
        print(f"{name}: {value}")
