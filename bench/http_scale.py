"""The several-process recipe measured on PostgreSQL: gunicorn with 1 process against 2 (alternated
rounds, medians), 8 concurrent clients each in its own forked process (so the bench's own GIL is not the
limit; what the clients cost in CPU is reported), and the memory of one gunicorn worker process after
many lifecycles."""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.http_api import (
    Session,
    _ids,
    _lifecycle,
    _prepare_database,
    _reset_postgres_database,
    children_of,
    production_environment,
    serving,
)

# Client processes are forked: this process holds no connection and runs no thread when they start.
_FORK = multiprocessing.get_context("fork")


def _client_process(port: int, token: str, key: str, ids: tuple[int, int], warmup: int, count: int,
                    start: Any, results: Any) -> None:
    """One client in its own process: `warmup` lifecycles, wait for the others, then `count` timed ones."""
    outcome: dict[str, Any] = {"error": None, "cpu_s": 0.0}
    try:
        enterprise, bank = Session(port, token), Session(port, key)
        for _ in range(warmup):
            _lifecycle(enterprise, bank, *ids)
    except BaseException as err:  # noqa: BLE001 - reported by the parent
        outcome["error"] = f"warm-up: {err}"
    start.wait()
    cpu = time.process_time()
    try:
        if outcome["error"] is None:
            for _ in range(count):
                _lifecycle(enterprise, bank, *ids)
    except BaseException as err:  # noqa: BLE001 - reported by the parent
        outcome["error"] = str(err)
    outcome["cpu_s"] = time.process_time() - cpu
    results.put(outcome)


def concurrent_clients(port: int, token: str, key: str, ids: tuple[int, int], clients: int, per_client: int,
                       warmup: int = 2, server_pids: list[int] | None = None) -> dict[str, Any]:
    """`clients` client processes, each `per_client` lifecycles after its warm-up: the rate (wall clock from
    the common start to the last lifecycle), the clients' CPU seconds and the server processes' CPU seconds
    (each process's too: the kernel hands each keep-alive connection to whichever worker accepts it first)."""
    start, results = _FORK.Barrier(clients + 1), _FORK.Queue()
    processes = [_FORK.Process(target=_client_process, args=(port, token, key, ids, warmup, per_client, start,
                                                             results)) for _ in range(clients)]
    for process in processes:
        process.start()
    try:
        start.wait(timeout=600)  # every client has warmed up
        server_cpu = [_cpu_seconds([pid]) for pid in server_pids or []]
        began = time.perf_counter()
        outcomes = [results.get(timeout=3600) for _ in processes]
        elapsed = time.perf_counter() - began
        server_cpu = [_cpu_seconds([pid]) - before for pid, before in zip(server_pids or [], server_cpu, strict=True)]
    finally:
        for process in processes:
            process.join(timeout=60)
            if process.is_alive():
                process.kill()
    failed = [outcome["error"] for outcome in outcomes if outcome["error"]]
    if failed:
        raise RuntimeError(f"{len(failed)} of {clients} clients failed: {failed[0]}")
    return {"lifecycles_per_s": clients * per_client / elapsed, "elapsed_s": elapsed,
            "clients_cpu_s": sum(outcome["cpu_s"] for outcome in outcomes), "server_cpu_s": sum(server_cpu),
            "server_cpu_s_by_process": server_cpu}


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time of these processes so far (/proc/<pid>/stat, fields 14 and 15)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def measure_scale_pg(rounds: int, per_client: int, clients: int = 8, database: str = "bench_http",
                     order: tuple[int, ...] = (1, 2)) -> dict[str, Any]:
    """gunicorn on PostgreSQL with 1 and with 2 processes (8 threads each), alternated `rounds` times, each
    round a new server; `clients` client processes of `per_client` lifecycles. Medians per process count."""
    url = _reset_postgres_database(database)
    token, key = _prepare_database(url)
    ids = _ids(url)
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in order}
    for _ in range(rounds):
        for processes in order:
            with serving(url, production_environment(), "gunicorn", processes) as (port, server):
                workers = children_of(server.pid)
                runs[processes].append(concurrent_clients(port, token, key, ids, clients, per_client,
                                                          server_pids=workers))
    return {"runs": runs, "clients": clients, "per_client": per_client,
            "median": {n: statistics.median(run["lifecycles_per_s"] for run in runs[n]) for n in order}}


def cases_label(count: int) -> str:
    """10000 -> "10k", 1000 -> "1k", 50 -> "50" (figure names)."""
    return f"{count // 1000}k" if count % 1000 == 0 else str(count)


def measure_rss_pg(cases: int, clients: int = 8, warmup: int = 20, database: str = "bench_http") -> dict[str, str]:
    """One gunicorn worker process on PostgreSQL: its VmRSS after `warmup` lifecycles, then after `cases`
    more lifecycles from `clients` concurrent client processes."""
    url = _reset_postgres_database(database)
    token, key = _prepare_database(url)
    ids = _ids(url)
    with serving(url, production_environment(), "gunicorn", 1) as (port, server):
        (worker,) = children_of(server.pid)
        enterprise, bank = Session(port, token), Session(port, key)
        for _ in range(warmup):
            _lifecycle(enterprise, bank, *ids)
        after_warmup = _rss_mb(worker)
        enterprise.connection.close()  # not inherited by the forked clients
        bank.connection.close()
        per_client, rest = divmod(cases, clients)
        if rest:
            raise ValueError(f"{cases} lifecycles do not split over {clients} clients")
        run = concurrent_clients(port, token, key, ids, clients, per_client, warmup=0)
        after = _rss_mb(worker)
        if children_of(server.pid) != [worker]:
            raise RuntimeError("the gunicorn worker was replaced during the run")
    return {"rss_mb_after_warmup": f"{after_warmup:.0f}", f"rss_mb_after_{cases_label(cases)}_cases": f"{after:.0f}",
            "rss_run_lifecycles_per_s": f"{run['lifecycles_per_s']:.1f}"}


def scale_plan(quick: bool) -> tuple[int, int]:
    """Rounds per process count and lifecycles per client of the scale-out measurement."""
    return (1, 5) if quick else (3, 25)


def rss_cases(quick: bool) -> int:
    return 1_000 if quick else 10_000


def scale_figures(scale: dict[str, Any]) -> dict[str, str]:
    """The scale-out measurement as figures: the medians, their ratio, and what the clients cost in CPU."""
    one, two = scale["median"][1], scale["median"][2]
    runs = [run for n in (1, 2) for run in scale["runs"][n]]
    lifecycles = len(runs) * scale["clients"] * scale["per_client"]
    return {
        "http_concurrent_lifecycles_per_s_pg_1_process": f"{one:.1f}",
        "http_concurrent_lifecycles_per_s_pg_2_processes": f"{two:.1f}",
        "http_scale_2_processes_pg": f"{two / one:.2f}",
        # CPU per lifecycle: the client processes, and gunicorn's worker processes (the rest is PostgreSQL's).
        "http_clients_cpu_ms_per_lifecycle": f"{sum(run['clients_cpu_s'] for run in runs) / lifecycles * 1000:.1f}",
        "http_server_cpu_ms_per_lifecycle_pg": f"{sum(run['server_cpu_s'] for run in runs) / lifecycles * 1000:.1f}",
    }
