"""Ctrl-C while `flask worker` starts its sweep child must not leave the child running unknown to it.

Arriving inside `Process.start()`, after the child was launched but before the parent recorded it, a
KeyboardInterrupt left an orphan holding the worker's stdout open (seen in CI: the worker "hung" for 30 s
after Ctrl-C). The parent now holds SIGINT while it starts the child, and the child takes it again."""

from __future__ import annotations

import signal

from engine.platform import worker
from engine.platform.worker import WorkerSettings, supervise


def _report_mask(watch, settings):  # noqa: ANN001, ANN202, ARG001 - a sweep child's signature
    blocked = signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    print(f"child SIGINT blocked: {blocked}", flush=True)


def test_ctrl_c_is_held_while_the_child_starts_and_the_child_takes_it_again(monkeypatch, capfd, database_url):
    seen: list[bool] = []
    real_start = worker._SPAWN.Process.start

    def start(process):  # noqa: ANN001, ANN202
        seen.append(signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, []))
        return real_start(process)

    monkeypatch.setattr(worker._SPAWN.Process, "start", start)
    supervise(WorkerSettings(database_url=database_url, sweep_seconds=60, batch_size=10), child=_report_mask,
              poll_seconds=0.1, rounds=1)
    assert seen == [True]  # held during start()
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, [])  # and taken again after
    assert "child SIGINT blocked: False" in capfd.readouterr().out
