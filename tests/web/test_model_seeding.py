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

from engine.models import ProcessDefinition, ProcessResource
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
    rules = "decision_paused_working_days = 0"
    variant.write_text(xml.replace(rules, rules + "\naccept_working_days = 2"),
                       encoding="utf-8")
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


def _ctrl_c_as_in_a_terminal() -> None:
    """Ctrl-C reaches the worker as it does one started in a terminal: a suite run as a shell's background
    job (`cmd &` without job control) has SIGINT ignored, and the worker would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_worker_started_after_an_author_deployed_v2_leaves_v2_the_latest(url, tmp_path):
    runner = create_app({"TESTING": True, "DATABASE_URL": url}).test_cli_runner()
    runner.invoke(args=["init-db", "--no-demo"])
    runner.invoke(args=["deploy", str(_authors_variant(tmp_path)), "--by", "author-li"])
    env = {**os.environ, "DATABASE_URL": url, "APP_ENV": "development", "LOAD_DEMO_DATA": "0"}
    worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "web", "worker"], cwd=ROOT, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              preexec_fn=_ctrl_c_as_in_a_terminal)
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


def test_deploy_takes_the_forms_and_decision_tables_beside_the_file(url, tmp_path):
    runner = create_app({"TESTING": True, "DATABASE_URL": url}).test_cli_runner()
    runner.invoke(args=["init-db", "--no-demo"])
    (tmp_path / "decisions").mkdir()
    table = (ROOT / "bpmn" / "decisions" / "loan_time_limits.dmn").read_text(encoding="utf-8")
    (tmp_path / "decisions" / "loan_time_limits.dmn").write_text(
        table.replace("<text>10</text>", "<text>8</text>"), encoding="utf-8")
    model = tmp_path / "loan_lifecycle.bpmn"
    model.write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    deployed = runner.invoke(args=["deploy", str(model), "--by", "author-li", "--reason", "审贷时限缩短为 8 个工作日"])
    assert deployed.exit_code == 0, deployed.output
    assert "1 decision tables" in deployed.output and "0 forms" in deployed.output  # forms carried over
    db = create_db_engine(url)
    try:
        with db.connect() as conn:
            latest = conn.execute(sa.select(ProcessDefinition).where(ProcessDefinition.key == "loan_lifecycle")
                                  .order_by(ProcessDefinition.version.desc())).first()
            resources = dict(conn.execute(sa.select(ProcessResource.name, ProcessResource.content).where(
                ProcessResource.definition_id == latest.id, ProcessResource.kind == "dmn")).all())
            forms = conn.execute(sa.select(sa.func.count()).select_from(ProcessResource).where(
                ProcessResource.definition_id == latest.id, ProcessResource.kind == "form")).scalar()
    finally:
        db.dispose()
    assert (latest.version, latest.reason) == (2, "审贷时限缩短为 8 个工作日")
    assert "<text>8</text>" in resources["loan_time_limits"] and forms == 5
