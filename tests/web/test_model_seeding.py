"""The shipped models are seeded by `init-db` only, and never over a version an author deployed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.models import ProcessDefinition
from engine.workflow import definitions
from engine.workflow.database import create_db_engine
from web import create_app

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "bpmn" / "loan_lifecycle.bpmn"


@pytest.fixture
def url(cli_database_url):
    return cli_database_url


def _versions(url: str) -> list[tuple[int, str]]:
    db = create_db_engine(url)
    try:
        with db.connect() as conn:
            return [tuple(row) for row in conn.execute(
                sa.select(ProcessDefinition.version, ProcessDefinition.deployed_by)
                .where(ProcessDefinition.key == "loan_lifecycle").order_by(ProcessDefinition.version))]
    finally:
        db.dispose()


def _authors_variant(tmp_path: Path) -> Path:
    variant = tmp_path / "loan_lifecycle_v2.bpmn"
    xml = SHIPPED.read_text(encoding="utf-8")
    variant.write_text(xml.replace("accept_working_days = 3", "accept_working_days = 2"), encoding="utf-8")
    return variant


def test_commands_after_an_authors_deploy_leave_the_authors_version_latest(url, tmp_path):
    runner = create_app({"TESTING": True, "DATABASE_URL": url}).test_cli_runner()
    assert runner.invoke(args=["init-db", "--no-demo"]).exit_code == 0
    assert _versions(url) == [(1, definitions.SEED_ACTOR)]
    deployed = runner.invoke(args=["deploy", str(_authors_variant(tmp_path)), "--by", "author-li"])
    assert deployed.exit_code == 0, deployed.output
    for args in (["init-db", "--no-demo"], ["sweep"], ["purge"],
                 ["deadline", "--from", "2026-09-30T10:00:00+08:00", "--working-days", "3"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 0, (args, result.output)
    assert _versions(url) == [(1, definitions.SEED_ACTOR), (2, "author-li")]


def test_a_worker_started_after_an_author_deployed_v2_leaves_v2_the_latest(url, tmp_path):
    runner = create_app({"TESTING": True, "DATABASE_URL": url}).test_cli_runner()
    runner.invoke(args=["init-db", "--no-demo"])
    runner.invoke(args=["deploy", str(_authors_variant(tmp_path)), "--by", "author-li"])
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development", "LOAD_DEMO_DATA": "0"}
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "web", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "Worker sweeping" not in line and time.monotonic() < deadline:
            line = worker.stdout.readline()
            assert line or worker.poll() is None, "the worker stopped"
    finally:
        worker.send_signal(signal.SIGINT)
        worker.communicate(timeout=30)
    assert _versions(url) == [(1, definitions.SEED_ACTOR), (2, "author-li")]


def test_init_db_deploys_an_updated_shipped_model_while_no_author_took_over(url, tmp_path, monkeypatch):
    runner = create_app({"TESTING": True, "DATABASE_URL": url}).test_cli_runner()
    runner.invoke(args=["init-db", "--no-demo"])
    shipped = tmp_path / "bpmn"
    shipped.mkdir()
    _authors_variant(tmp_path).rename(shipped / "loan_lifecycle.bpmn")
    monkeypatch.setattr(definitions, "BPMN_DIR", shipped)
    assert runner.invoke(args=["init-db", "--no-demo"]).exit_code == 0
    assert _versions(url) == [(1, definitions.SEED_ACTOR), (2, definitions.SEED_ACTOR)]
