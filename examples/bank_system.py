"""A bank's own system talking to the platform over the API (银行直连), end to end.

It polls the institution's open work and takes each step: accept, decide (approve), disburse,
settle. Every call carries an Idempotency-Key derived from the application and the step, so a
retry after a timeout never takes a step twice. Standard library only.

    # terminal 1
    make run
    # terminal 2: a key for bank A, then let the "bank" work (and, with --submit-demo, first
    # let the demo enterprise submit an application so there is something to do)
    .venv/bin/flask --app web api-key create BANK-A --name "core banking" > /tmp/bank-a.key
    .venv/bin/python examples/bank_system.py --api-key "$(cat /tmp/bank-a.key)" --submit-demo --once

With --webhook-port it also receives the platform's pushes (docs/WEBHOOKS.md): a small HTTP
receiver that checks each push's signature and timestamp and ignores a push it already had:

    .venv/bin/flask --app web webhook set BANK-A http://127.0.0.1:8085/ > /tmp/bank-a.whsec
    .venv/bin/python examples/bank_system.py --webhook-port 8085 --webhook-secret "$(cat /tmp/bank-a.whsec)"
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Lock, Thread
from typing import Any

SHANGHAI = timezone(timedelta(hours=8))


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('code')}: {body.get('message')} {body.get('errors') or ''}")
        self.status, self.body = status, body


class Client:
    """A minimal JSON client with bearer authentication and retries on connection errors."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret

    def call(self, method: str, path: str, body: dict[str, Any] | None = None,
             idempotency_key: str | None = None, attempts: int = 3) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.secret}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        for attempt in range(1, attempts + 1):
            request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return json.loads(response.read() or b"{}")
            except urllib.error.HTTPError as error:
                raise ApiError(error.code, json.loads(error.read() or b"{}")) from None
            except urllib.error.URLError:
                if attempt == attempts:
                    raise
                time.sleep(attempt)  # safe: the Idempotency-Key makes the retry harmless
        raise AssertionError("unreachable")


def submit_demo_application(base_url: str, username: str, password: str) -> str:
    """Sign in as the demo enterprise and submit an application to bank A (institution 1)."""
    token = Client(base_url, "").call("POST", "/api/v1/tokens", {"username": username, "password": password})
    enterprise = Client(base_url, token["token"])
    now = datetime.now(SHANGHAI)
    application = enterprise.call("POST", "/api/v1/applications", {
        "institution_id": 1, "product_id": 1, "amount": "800000.00", "term_months": 12,
        "purpose": "采购设备 (example client)",
        "authorization": {"scope": "企业征信报告查询（本次贷款审批）", "granted_by": username,
                          "granted_at": now.isoformat(), "expires_at": (now + timedelta(days=30)).isoformat()},
    }, idempotency_key=f"demo-{now:%Y%m%d%H%M%S}")
    print(f"enterprise submitted {application['reference']}")
    return application["reference"]


def work_once(bank: Client) -> int:
    """Take every step that is waiting for this bank; return how many steps were taken."""
    taken = 0
    cursor = None
    while True:
        query = "/api/v1/applications?limit=50" + (f"&cursor={cursor}" if cursor else "")
        page = bank.call("GET", query)
        for application in page["items"]:
            for task in application["open_tasks"]:
                take_step(bank, application, task["step"])
                taken += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return taken


def take_step(bank: Client, application: dict[str, Any], step: str) -> None:
    reference = application["reference"]
    today = datetime.now(SHANGHAI).date().isoformat()
    key = f"{reference}-{step}"
    if step == "Accept":
        result = bank.call("POST", f"/api/v1/applications/{reference}/accept", {"note": "资料齐全"}, key)
    elif step == "Decide":
        result = bank.call("POST", f"/api/v1/applications/{reference}/decision", {
            "decision": "approve", "amount": application["amount"], "annual_rate": "3.85",
            "term_months": application["term_months"]}, key)
    elif step == "Disburse":
        result = bank.call("POST", f"/api/v1/applications/{reference}/disbursement", {
            "contract_number": f"HT-{reference}", "amount": application["approved_amount"],
            "disbursed_on": today, "account": "6222020200112233"}, key)
    elif step == "Settle":
        result = bank.call("POST", f"/api/v1/applications/{reference}/settlement", {"settled_on": today}, key)
    else:
        return
    print(f"{reference}: {step} -> {result['status']}")


WEBHOOK_TOLERANCE_SECONDS = 300  # older (or future) timestamps are refused: a replayed push


class WebhookRejected(Exception):
    """A push whose signature or timestamp does not check out; answered 400, never processed."""


def verify_webhook(secret: str, timestamp: str, signature_header: str, body: bytes,
                   now: float | None = None, tolerance: int = WEBHOOK_TOLERANCE_SECONDS) -> dict[str, Any]:
    """Check a push from the platform and return its JSON; raise WebhookRejected otherwise."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookRejected("the timestamp is not a number") from None
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        raise WebhookRejected("the timestamp is too old or in the future")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    signatures = [part.strip()[3:] for part in signature_header.split(",") if part.strip().startswith("v1=")]
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise WebhookRejected("no valid signature")
    return json.loads(body)


def webhook_server(port: int, secret: str, on_push: Callable[[dict[str, Any]], None],
                   host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """An HTTP receiver of the platform's pushes: verified, deduplicated on X-Idempotency-Key."""
    seen: set[str] = set()
    lock = Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                push = verify_webhook(secret, self.headers.get("X-Xyd-Timestamp", ""),
                                      self.headers.get("X-Xyd-Signature", ""), body)
            except (WebhookRejected, ValueError) as error:
                self._answer(400, str(error))
                return
            key = self.headers.get("X-Idempotency-Key", "")
            with lock:
                first_time = key not in seen
                seen.add(key)
            if first_time:
                on_push(push)
            self._answer(200, "ok")

        def _answer(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)


def print_push(push: dict[str, Any]) -> None:
    data = push.get("data", {})
    print(f"push {push.get('topic')}: {json.dumps(data, ensure_ascii=False)}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get("PLATFORM_URL", "http://127.0.0.1:5000"))
    parser.add_argument("--api-key", default=os.environ.get("BANK_API_KEY"), help="the institution's API key")
    parser.add_argument("--once", action="store_true", help="work until nothing is left, then stop")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between polls")
    parser.add_argument("--submit-demo", action="store_true", help="first submit an application as the demo enterprise")
    parser.add_argument("--enterprise-user", default="enterprise")
    parser.add_argument("--enterprise-password", default="demo-password")
    parser.add_argument("--webhook-port", type=int, help="also receive the platform's pushes on this port")
    parser.add_argument("--webhook-secret", default=os.environ.get("BANK_WEBHOOK_SECRET"),
                        help="the institution's webhook signing secret")
    args = parser.parse_args()
    if args.webhook_port is not None:
        if not args.webhook_secret:
            parser.error("give --webhook-secret or set BANK_WEBHOOK_SECRET")
        server = webhook_server(args.webhook_port, args.webhook_secret, print_push)
        if not args.api_key:
            print(f"receiving pushes on port {args.webhook_port}; Ctrl-C stops", flush=True)
            try:
                server.serve_forever()
            except KeyboardInterrupt:
                pass
            return 0
        Thread(target=server.serve_forever, daemon=True).start()
    if not args.api_key:
        parser.error("give --api-key or set BANK_API_KEY")
    try:
        if args.submit_demo:
            submit_demo_application(args.base_url, args.enterprise_user, args.enterprise_password)
        bank = Client(args.base_url, args.api_key)
        while True:
            taken = work_once(bank)
            while args.once and taken:
                taken = work_once(bank)  # each step opens the next one
            if args.once:
                return 0
            time.sleep(args.interval)
    except ApiError as error:
        print(f"the platform refused: {error}", file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"cannot reach {args.base_url}: {error.reason}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
