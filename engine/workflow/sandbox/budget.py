"""What one evaluation of BPMN code may spend: the limits, and the budget that guards charge.

A tracer sees Python lines, not the work inside one C-level call, so the guards of this package
work out the size of a result before it is made and charge what they let through here: a result
past max_sequence_length elements or max_int_bits bits is refused, the rest is taken from a
memory budget, and work on large objects looks at the CPU clock (and at the process' resident
size) first. The budget of an evaluation lives in a thread-local and is only created when a
guard needs it, so a plain condition (`approved == True`) pays nothing for it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from engine.workflow.errors import ScriptSecurityError

MAX_SEQUENCE_LENGTH = 1_000_000  # elements of a list, characters of a string, numbers of a range
MAX_INT_BITS = 65_536  # about 19,700 decimal digits
MEMORY_BUDGET_BYTES = 64 * 1024 * 1024
CPU_SECONDS = 0.5
SMALL_LENGTH, SMALL_BITS = 1_000, 1_024  # smaller results skip the bookkeeping (limits may not be lower)
_BIG = 10_000  # work on an object this long looks at the clock first
_CLOCK_INTERVAL = 0.005  # wall seconds between two readings of the CPU clock (a system call)
_RSS_GROWTH_BUDGETS = 4  # the process may grow by this many memory budgets (what no guard counts)

SCALARS = frozenset({str, int, float, bool, type(None)})
_SIZED = frozenset({str, bytes, bytearray, list, tuple, dict, set, frozenset, range})
_NUMBERS = frozenset({int, float, bool, complex})
_SEQUENCES = (str, bytes, bytearray, list, tuple)
_TEXTS = (str, bytes, bytearray)
_CONTAINERS = (list, tuple, dict, set, frozenset)


@dataclass(frozen=True)
class Limits:
    """The limits of one environment (defaults: the module constants)."""

    max_sequence_length: int = MAX_SEQUENCE_LENGTH
    max_int_bits: int = MAX_INT_BITS
    memory_budget: int = MEMORY_BUDGET_BYTES
    cpu_seconds: float = CPU_SECONDS

    def __post_init__(self) -> None:
        if self.max_sequence_length < SMALL_LENGTH or self.max_int_bits < SMALL_BITS:
            raise ValueError(f"Sandbox limits must allow at least {SMALL_LENGTH} elements and {SMALL_BITS} bits")
        if self.memory_budget < 1024 * 1024 or not self.cpu_seconds > 0:
            raise ValueError("The sandbox needs a memory budget of at least 1 MB and a positive CPU time")


DEFAULT_LIMITS = Limits()


def _count(number: int) -> str:
    return f"{number:,}" if number < 10 ** 30 else "more than 10**30"  # str() of a huge int fails


def _resident_bytes() -> int | None:
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * 4096
    except (OSError, ValueError, IndexError):
        return None


class Budget:
    """What one evaluation may still spend. A spent budget stays spent."""

    __slots__ = ("limits", "memory_left", "started", "next_clock", "cpu_deadline", "rss_ceiling")

    def __init__(self, limits: Limits) -> None:
        self.limits, self.memory_left = limits, limits.memory_budget
        self.started: float | None = None
        self.next_clock = 0.0
        self.cpu_deadline: float | None = None
        self.rss_ceiling: int | None = None

    def sequence(self, length: int, what: str, item_bytes: int = 8) -> None:
        """Refuse a result of more than max_sequence_length elements, else charge its memory."""
        if length > self.limits.max_sequence_length:
            raise ScriptSecurityError(f"{what} would make {_count(length)} elements; BPMN code may make at most "
                                      f"{self.limits.max_sequence_length:,}")
        self.charge(length * item_bytes)

    def integer(self, bits: int, what: str) -> None:
        if bits > self.limits.max_int_bits:
            raise ScriptSecurityError(f"{what} would make a number of {_count(bits)} bits; BPMN code may make "
                                      f"at most {self.limits.max_int_bits:,}")
        self.charge(bits // 8)

    def charge(self, nbytes: int) -> None:
        self.memory_left -= nbytes
        if self.memory_left < 0:
            raise ScriptSecurityError(f"BPMN code built more than its memory budget of "
                                      f"{self.limits.memory_budget // 1024 // 1024} MB")
        if nbytes >= _BIG:
            self.tick()

    def tick(self) -> None:
        """Refuse once past the CPU-time budget or the resident-memory ceiling. The first call only
        notes the time: an evaluation shorter than _CLOCK_INTERVAL never reads the CPU clock."""
        now = time.perf_counter()
        if now < self.next_clock:
            return
        if self.started is None:
            self.started, self.next_clock = now, now + _CLOCK_INTERVAL
            return
        cpu = time.thread_time()
        if self.cpu_deadline is None:  # the time before this first reading counts as CPU time
            self.cpu_deadline = cpu + self.limits.cpu_seconds - (now - self.started)
        if cpu > self.cpu_deadline:
            raise ScriptSecurityError(f"BPMN code ran past its CPU-time budget of {self.limits.cpu_seconds:g} s")
        resident = _resident_bytes()
        growth = _RSS_GROWTH_BUDGETS * self.limits.memory_budget
        if resident is not None:
            if self.rss_ceiling is None:
                self.rss_ceiling = resident + growth
            elif resident > self.rss_ceiling:
                raise ScriptSecurityError(f"BPMN code made the process grow by more than {growth // 1024 // 1024} MB")
        self.next_clock = now + _CLOCK_INTERVAL


class _State(threading.local):
    # (limits, budget or None until a guard needs one): starting an evaluation is one write.
    evaluation: tuple[Limits, Budget | None] = (DEFAULT_LIMITS, None)


state = _State()


def enter(limits: Limits) -> tuple[Limits, Budget | None]:
    """Start an evaluation on this thread; give the result to `leave`."""
    previous, state.evaluation = state.evaluation, (limits, None)
    return previous


def leave(previous: tuple[Limits, Budget | None]) -> None:
    state.evaluation = previous


def current() -> Budget:
    """The budget of the evaluation running on this thread."""
    limits, budget = state.evaluation
    if budget is None:
        budget = Budget(limits)
        state.evaluation = (limits, budget)
    return budget


def _item_bytes(value: Any) -> int:
    return 1 if isinstance(value, _TEXTS) else 8


def _refuse(message: str) -> ScriptSecurityError:
    return ScriptSecurityError(f"{message} in BPMN code")


def _look(value: Any) -> Any:
    """An argument of any(), map(), sum()...: going over a large object is one C-level loop, so
    look at the clock first."""
    if type(value) in _SIZED and len(value) >= _BIG:
        current().tick()
    return value
