"""Shared by the delivery tests: people to tell, a webhook receiver that can fail or stall, settings."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import sqlalchemy as sa

from engine.loans.actors import ENTERPRISE, INSTITUTION_ADMIN, OFFICER, SUPERVISOR
from engine.models import Institution
from engine.platform.access import SYSTEM_ADMIN, create_user
from notifications.endpoints import set_endpoint
from notifications.settings import DeliverySettings, SmtpSettings
from notifications.signing import verify

PASSWORD = "long-enough-password"


def add_people(engine, parties, emails: bool = False) -> dict[str, int]:
    """Accounts of bank A's officer and admin, B's officer, a supervisor, the enterprise and an admin."""
    people = {
        "ent-user": (ENTERPRISE, {"enterprise_id": parties.enterprise.enterprise_id}),
        "officer-a": (OFFICER, {"institution_id": parties.bank_a_id}),
        "officer-b": (OFFICER, {"institution_id": parties.bank_b_id}),
        "bank-admin-a": (INSTITUTION_ADMIN, {"institution_id": parties.bank_a_id}),
        "supervisor": (SUPERVISOR, {}),
        "admin": (SYSTEM_ADMIN, {}),
    }
    ids = {}
    with engine.transaction() as session:
        for username, (role, party) in people.items():
            user = create_user(session, engine.clock.now(), username, PASSWORD, role, **party)
            if emails:
                user.email = f"{username}@example.cn"
            ids[username] = user.id
    return ids


def settings(**overrides) -> DeliverySettings:
    values = {"max_attempts": 5, "backoff_seconds": 10, "lease_seconds": 60, "webhook_timeout_seconds": 5}
    values.update(overrides)
    return DeliverySettings(**values)


def smtp(port: int) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=port, sender="platform@xinyidai.example.cn")


class Receiver:
    """A bank's webhook endpoint on 127.0.0.1: answers 500 `failures` times, may stall, counts by key."""

    def __init__(self, failures: int = 0, stall_seconds: float = 0.0) -> None:
        self.failures, self.stall_seconds = failures, stall_seconds
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    receiver.requests.append({"headers": dict(self.headers), "body": body})
                    fail = receiver.failures > 0
                    receiver.failures -= fail
                if receiver.stall_seconds:
                    time.sleep(receiver.stall_seconds)
                self.send_response(500 if fail else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/xyd"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def keys(self) -> Counter:
        return Counter(r["headers"]["X-Idempotency-Key"] for r in self.requests)

    def bodies(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]

    def signed_by(self, secret: str, request: dict) -> bool:
        headers = request["headers"]
        return verify(secret, headers["X-Xyd-Timestamp"], request["body"], headers["X-Xyd-Signature"])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def connect_webhook(engine, parties, url: str) -> str:
    with engine.transaction() as session:
        code = session.scalar(sa.select(Institution.code).where(Institution.id == parties.bank_a_id))
        return set_endpoint(session, engine.clock.now(), code, url, "test")
