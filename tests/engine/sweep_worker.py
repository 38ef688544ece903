"""A separate worker process for the concurrency test: sweep with a clock set to argv[2]."""

from __future__ import annotations

import sys
from datetime import datetime

from engine.platform.bootstrap import build_engine
from engine.workflow.clock import ControlledClock
from engine.workflow.timers import sweep_due_timers


def main() -> None:
    url, instant = sys.argv[1], datetime.fromisoformat(sys.argv[2])
    engine = build_engine(url, ControlledClock(instant))
    result = sweep_due_timers(engine, batch_size=2)
    print(result.claimed, result.failed)


if __name__ == "__main__":
    main()
