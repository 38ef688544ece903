"""A sweep worker that stops in the middle of its first batch and waits to be killed (SIGKILL).

argv: database URL, the clock's instant, the case at which to stop (1-based, within the batch).
It prints "stopped" once the batch has fired that many cases (their writes not yet committed).
"""

from __future__ import annotations

import sys
import time
from datetime import datetime

from engine.platform.bootstrap import build_engine
from engine.workflow.clock import ControlledClock
from engine.workflow.timers import sweep_due_timers


def main() -> None:
    url, instant, stop_at = sys.argv[1], datetime.fromisoformat(sys.argv[2]), int(sys.argv[3])
    engine = build_engine(url, ControlledClock(instant))
    started: list[int] = []

    def on_case(instance_id: int | None) -> None:
        if instance_id is None:
            return
        started.append(instance_id)
        if len(started) == stop_at:
            print("stopped", flush=True)
            time.sleep(600)  # killed here, mid-batch

    engine.on_case = on_case
    sweep_due_timers(engine, batch_size=100)


if __name__ == "__main__":
    main()
