"""A delivery worker in its own process for the kill test: deliver with the clock at argv[2], for ever
(argv[4] == "loop") or once, with a webhook timeout of argv[3] seconds."""

from __future__ import annotations

import sys
import time
from datetime import datetime

from engine.platform.bootstrap import build_engine
from engine.workflow.clock import ControlledClock
from notifications.delivery import deliver_due
from tests.notification_helpers import settings


def main() -> None:
    url, instant, timeout, mode = sys.argv[1], datetime.fromisoformat(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    engine = build_engine(url, ControlledClock(instant))
    worker_settings = settings(webhook_timeout_seconds=timeout, lease_seconds=2 * timeout)
    while True:
        run = deliver_due(engine, worker_settings)
        print("sent", run.sent, "failed", run.failed, flush=True)
        if mode != "loop":
            return
        time.sleep(0.1)


if __name__ == "__main__":
    main()
