"""Gunicorn settings for several web processes (PostgreSQL), read from the environment.

    gunicorn -c python:web.gunicorn_config 'web:create_app()'     (or `make serve`)

PORT (5000) and BIND (127.0.0.1) say where to listen, WEB_PROCESSES how many worker processes
(default: the CPUs this process may run on), WEB_THREADS the threads of each (8), WEB_ACCESS_LOG
where access lines go ("-" for stderr; none by default). The app is not preloaded: each worker
imports it and builds its own engine, connection pool, caches and keyring after the fork, so
nothing opened in the master (no connection, no thread) is shared between processes.

These processes serve requests only: timers, the delivery of notifications, the hourly purge and
the reports run in `flask --app web worker` processes started beside them (any number; the sweep
and the delivery claim rows with SKIP LOCKED, the once-per-period jobs take the `job_run` row lock).
"""

from __future__ import annotations

import os


def _positive(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"{name} must be at least 1, got {value}")
    return value


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _scheduler_enabled() -> bool:
    return os.environ.get("SCHEDULER_ENABLED", "").lower() in ("1", "true", "yes", "on")


if _scheduler_enabled():
    raise RuntimeError("The web processes run no scheduler here: set SCHEDULER_ENABLED=0 and start "
                       "`flask --app web worker` for timers, deliveries, the purge and the reports")

bind = [f"{os.environ.get('BIND') or '127.0.0.1'}:{_positive('PORT', 5000)}"]
workers = _positive("WEB_PROCESSES", _cpus())
# Without SECRET_KEY every process makes up its own (config.py): a session cookie or CSRF token signed by
# one worker would be refused by the next. It is not made up here either: outside production the
# personal-data keys fall back to one derived from SECRET_KEY, and a new one at each start would lock
# out what was written before it.
if workers > 1 and not os.environ.get("SECRET_KEY"):
    raise RuntimeError("Several web processes must share one SECRET_KEY: set it in the environment")
worker_class = "gthread"
threads = _positive("WEB_THREADS", 8)
preload_app = False  # see above: every worker builds the app (and its database pool) after the fork
# A worker that stops answering the master's heartbeat for this long is killed and replaced (with
# gthread the heartbeat runs beside the request threads, so a slow request alone does not trigger it).
timeout = 60
graceful_timeout = 30  # on SIGTERM, requests in progress get this long to finish
keepalive = 5  # seconds an idle keep-alive connection (a bank's client between calls) is kept
# Each worker listens on its own socket (SO_REUSEPORT) and the kernel spreads new connections over them.
# On one shared socket the worker that wakes first accepts every connection arriving together, and a
# bank's system keeps its connection open: with 8 clients starting at once, one worker got all of them
# and the other stayed idle (bench/http_api.py). The cost: another server started by the same user on
# the same port would share it rather than fail to bind.
reuse_port = True
accesslog = os.environ.get("WEB_ACCESS_LOG") or None
errorlog = "-"
proc_name = "loans-web"
# Gunicorn's runtime control socket (worker counts changed from outside) is not part of this recipe;
# its default path is shared by every gunicorn of the user, so two servers on one host would collide.
control_socket_disable = True
