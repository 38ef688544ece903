"""One of several processes running the hourly housekeeping job at the same instant (for the tests).

`python -m tests.engine.once_job_process URL START_EPOCH`: waits until START_EPOCH (wall clock),
then runs the scheduler's real housekeeping job; the purge itself is wrapped to leave an audit
event, so the test can count how many processes really purged.
"""

from __future__ import annotations

import sys
import time

from engine.platform import scheduler
from engine.platform.bootstrap import build_engine
from engine.workflow.journal import record_audit


def main() -> None:
    url, start = sys.argv[1], float(sys.argv[2])
    engine = build_engine(url)
    real_purge = scheduler.purge_expired

    def counted_purge(engine_):  # noqa: ANN001, ANN202
        with engine_.transaction() as session:
            record_audit(session, engine_.clock.now(), "test", "housekeeping_ran")
        time.sleep(0.3)  # long enough for the other process to arrive meanwhile
        return real_purge(engine_)

    scheduler.purge_expired = counted_purge
    time.sleep(max(0.0, start - time.time()))
    scheduler._housekeeping_job(engine)
    print("done")


if __name__ == "__main__":
    main()
