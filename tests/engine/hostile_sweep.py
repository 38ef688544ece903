"""A sweep worker for the hostile-model tests: `python -m tests.engine.hostile_sweep URL INSTANT [HATCH]`.

It runs under a 3 GB address-space limit so that a failing guard cannot take the machine down.
HATCH (SystemExit or KeyboardInterrupt) simulates a hole in the sandbox: scripts get a helper
`escape_hatch` that is that exception class, as if they had reached it somehow.
"""

from __future__ import annotations

import json
import resource
import sys
from datetime import datetime

from engine.platform.bootstrap import build_engine
from engine.workflow import adapter as spiff_adapter
from engine.workflow.clock import ControlledClock
from engine.workflow.timers import sweep_due_timers

HATCHES = {"SystemExit": SystemExit, "KeyboardInterrupt": KeyboardInterrupt}


def main() -> None:
    url, instant = sys.argv[1], datetime.fromisoformat(sys.argv[2])
    hatch = HATCHES.get(sys.argv[3]) if len(sys.argv) > 3 else None
    limit = 3 * 1024 ** 3
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if hatch is not None:
        original = spiff_adapter.EngineScriptEngine.__init__

        def with_hatch(self, helpers, *args, **kwargs):  # noqa: ANN001, ANN202
            original(self, {**helpers, "escape_hatch": hatch}, *args, **kwargs)

        spiff_adapter.EngineScriptEngine.__init__ = with_hatch
    engine = build_engine(url, ControlledClock(instant))
    result = sweep_due_timers(engine, batch_size=10)
    print(json.dumps({"claimed": result.claimed, "instances": result.instances, "failed": result.failed}))


if __name__ == "__main__":
    main()
