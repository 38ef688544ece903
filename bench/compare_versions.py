"""Before/after: the same PostgreSQL benchmarks on an earlier commit and on this tree, alternated.

    python -m bench.compare_versions --before ee1aacd [--pairs 3]

`--after-model FILE` deploys FILE over this tree's shipped model first, so that both sides run the
same process and the figures compare the runtimes alone.

The earlier commit is checked out in a temporary git worktree that shares this virtualenv. Each
round runs in its own process with its tree's code and shipped models: lifecycles through the
engine's services (5 rounds of 30, median) on a scratch database, then the HTTP API (100 sequential
lifecycles with an Idempotency-Key on every POST, then 8 clients × 10, APP_ENV=production) with
`bench.http_api.run_backend`. Rounds alternate before/after so that a machine that speeds up or slows
down does not favour either side; the medians of the rounds and their ratios are printed as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SCRATCH = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_compare"

# Runs inside a tree (cwd), with that tree's code: prints one JSON line of figures.
ROUND = r"""
import json, statistics, sys, time
import psycopg
from bench import http_api, run
from engine.models import Enterprise, Institution, LoanProduct
from engine.loans.actors import ENTERPRISE, OFFICER, Actor
try:  # the layout since the generic runtime moved into engine/workflow and engine/platform
    from engine.platform.bootstrap import build_engine, prepare
    from engine.platform.migrate import upgrade
    from engine.workflow.clock import ControlledClock
except ImportError:  # the flat engine/ of earlier commits
    from engine.bootstrap import build_engine, prepare
    from engine.migrate import upgrade
    from engine.clock import ControlledClock

admin, url, model = sys.argv[1], sys.argv[2], (sys.argv[3] if len(sys.argv) > 3 else "")


def deploy_model(engine):
    # `model` (a BPMN file) over the shipped one, its forms carried over: the same process on both sides.
    if model:
        from engine.workflow.definitions import deploy
        with engine.transaction() as session:
            deploy(session, open(model, encoding="utf-8").read(), "bench", engine.clock)


original_prepare = http_api.prepare


def prepare_with_model(engine):
    original_prepare(engine)
    deploy_model(engine)


http_api.prepare = prepare_with_model
with psycopg.connect(admin, autocommit=True) as conn:
    conn.execute("DROP DATABASE IF EXISTS bench_compare")
    conn.execute("CREATE DATABASE bench_compare")
upgrade(url)
clock = ControlledClock(run.START)
engine = build_engine(url, clock)
prepare_with_model(engine)
with engine.transaction() as session:
    bank, enterprise = Institution(code="A", name="Bank A"), Enterprise(name="Ent", credit_code="91430100MA4L000001")
    session.add_all([bank, enterprise])
    session.flush()
    product = LoanProduct(institution_id=bank.id, code="P", name="P")
    session.add(product)
    session.flush()
    ids = {"institution_id": bank.id, "product_id": product.id}
    applicant = Actor("ent", ENTERPRISE, enterprise_id=enterprise.id)
    officer = Actor("officer", OFFICER, institution_id=bank.id)
run.engine_lifecycles(engine, clock, applicant, officer, ids, 5)  # warm-up
rates = [30 / run.engine_lifecycles(engine, clock, applicant, officer, ids, 30) for _ in range(5)]
engine.session_factory.kw["bind"].dispose()
http_api._reset_postgres_database()
import base64, os
def made_up_key():  # this round's keys, never stored; trees from before personal-data keys ignore them
    return base64.urlsafe_b64encode(os.urandom(32)).decode()
production = {"APP_ENV": "production", "SECRET_KEY": made_up_key(), "PERSONAL_DATA_KEYS": made_up_key(),
              "PERSONAL_DATA_HASH_KEY": made_up_key()}
http = http_api.run_backend("compare", http_api.POSTGRES_BENCH_URL, production, 100, 10)
print(json.dumps({"engine_lifecycles_per_s": statistics.median(rates), **{f"http_{k}": v for k, v in http.items()}}))
"""


def _round(tree: Path, model: str = "") -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", ROUND, ADMIN, SCRATCH, model], cwd=tree,
                          capture_output=True, text=True,
                          timeout=900, env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})
    if done.returncode != 0:
        raise RuntimeError(f"round in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the earlier commit")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--after-model", default="", help="a BPMN file deployed over this tree's shipped model "
                        "before measuring (e.g. the earlier commit's model, to compare the runtimes alone)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-before-") as scratch:
        before_tree = Path(scratch) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(before_tree), args.before], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
            for pair in range(args.pairs):
                for side, tree, model in (("before", before_tree, ""), ("after", ROOT, args.after_model)):
                    runs[side].append(_round(tree, model))
                    print(f"pair {pair + 1} {side}: {json.dumps(runs[side][-1])}", file=sys.stderr)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before_tree)], cwd=ROOT, check=False)
    summary = {}
    for figure in runs["before"][0]:
        before = statistics.median(r[figure] for r in runs["before"])
        after = statistics.median(r[figure] for r in runs["after"])
        summary[figure] = {"before": [round(r[figure], 1) for r in runs["before"]],
                           "after": [round(r[figure], 1) for r in runs["after"]],
                           "median_ratio": round(after / before, 3)}
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
