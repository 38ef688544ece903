"""System admins preview and migrate a running case over the API and the CLI; nobody else can."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command

from engine.loans import services
from engine.models import AuditEvent, ProcessDefinition, ProcessInstance
from engine.platform.access import SYSTEM_ADMIN, create_user, issue_user_token
from engine.platform.migrate import alembic_config
from tests.api.conftest import Caller
from tests.conftest import scalar
from tests.engine.test_migration import deploy_version, instance_of, shipped_xml, with_review_step, without_decide


@pytest.fixture
def admin(app, engine, callers) -> Caller:
    with engine.transaction() as session:
        user = create_user(session, engine.clock.now(), "admin", "long-enough-password", SYSTEM_ADMIN)
        return Caller(app.test_client(), issue_user_token(session, engine.clock.now(), user)[0])


@pytest.fixture
def case(engine, parties, submit, clock) -> int:
    """A case waiting at Decide on version 1, with version 2 deployed (a review step, a later deadline)."""
    application_id = submit()
    clock.advance(hours=2)
    services.accept(engine, parties.officer_a, application_id)
    deploy_version(engine, with_review_step(shipped_xml()))
    return instance_of(engine, application_id)


def _url(instance_id: int) -> str:
    return f"/api/v1/process-instances/{instance_id}/migration"


def _version_of(engine, instance_id: int) -> int:
    return scalar(engine, sa.select(ProcessDefinition.version)
                  .join(ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
                  .where(ProcessInstance.id == instance_id))


def test_nobody_but_system_admins_sees_or_migrates_a_case(callers, case, engine):
    for caller in (callers.bank_a, callers.officer_a, callers.supervisor, callers.author, callers.enterprise):
        assert caller.get(_url(case)).status_code == 404
        refused = caller.post(_url(case), {"to_version": 2, "reason": "x"})
        assert (refused.status_code, refused.json["code"]) == (404, "not_found")
    assert callers.anonymous.get(_url(case)).status_code == 401
    assert callers.anonymous.post(_url(case), json={"to_version": 2, "reason": "x"}).status_code == 401
    assert _version_of(engine, case) == 1


def test_admins_preview_a_migration_as_json(admin, case):
    response = admin.get(_url(case))
    assert response.status_code == 200
    body = response.json
    assert (body["possible"], body["from_version"], body["to_version"], body["reason_code"]) == (True, 1, 2, None)
    assert {task["bpmn_id"]: task["outcome"] for task in body["tasks"]}["Decide"] == "kept"
    [deadline] = [timer for timer in body["timers"] if timer["bpmn_id"] == "Decide_Deadline"]
    assert deadline["re_evaluated"] is True and deadline["due_after"] > deadline["due_before"]
    assert "Review" in body["added_elements"]
    same = admin.get(_url(case), query_string={"to": 1}).json
    assert (same["possible"], same["reason_code"]) == (False, "same_version")
    assert admin.get(_url(999_999)).status_code == 404
    assert admin.get(_url(case), query_string={"to": 0}).status_code == 422


def test_admins_migrate_a_case_once_per_idempotency_key(admin, case, engine):
    body = {"to_version": 2, "reason": "Decision deadline extended"}
    first = admin.post(_url(case), body, headers={"Idempotency-Key": "migrate-1"})
    assert first.status_code == 200, first.json
    assert (first.json["from_version"], first.json["to_version"]) == (1, 2)
    assert first.json["reset_tasks"] == ["Decide_Deadline"]
    replay = admin.post(_url(case), body, headers={"Idempotency-Key": "migrate-1"})
    assert replay.json == first.json and replay.headers["Idempotent-Replayed"] == "true"
    again = admin.post(_url(case), body)
    assert (again.status_code, again.json["code"]) == (409, "same_version")
    assert _version_of(engine, case) == 2
    assert scalar(engine, sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "instance_migrated")) == 1


def test_an_impossible_migration_is_refused_with_its_reason_and_bad_input_with_422(admin, case, engine):
    assert deploy_version(engine, without_decide(shipped_xml())) == 3
    refused = admin.post(_url(case), {"to_version": 3, "reason": "Drop the decision"})
    assert (refused.status_code, refused.json["code"]) == (409, "active_task_removed")
    assert "Decide" in refused.json["message"]
    for bad in ({"to_version": 2}, {"to_version": "2", "reason": "x"}, {"to_version": 2, "reason": ""},
                {"to_version": 2, "reason": "x" * 501}, {"to_version": 0, "reason": "x"}):
        assert admin.post(_url(case), bad).status_code == 422, bad
    assert _version_of(engine, case) == 1


def test_the_openapi_document_describes_the_migration_endpoints(app):
    spec = app.test_client().get("/api/v1/openapi.json").json
    operations = spec["paths"]["/api/v1/process-instances/{instance_id}/migration"]
    assert {"get", "post"} <= set(operations)


def test_the_cli_previews_and_migrates_a_case_and_migrates_in_bulk(app, case, engine, database_url):
    command.stamp(alembic_config(database_url), "head")  # the test database is made without Alembic
    cli = app.test_cli_runner()
    preview = cli.invoke(args=["instances", "migrate-preview", str(case)])
    assert preview.exit_code == 0, preview.output
    assert f"Instance #{case} (" in preview.output and "loan_lifecycle v1 -> v2: possible" in preview.output
    assert "timer Decide_Deadline: re-evaluated" in preview.output
    refused = cli.invoke(args=["instances", "migrate", str(case), "--to", "1", "--reason", "x"])
    assert refused.exit_code == 1 and "not migrated (same_version)" in refused.output
    dry = cli.invoke(args=["instances", "migrate-all", "loan_lifecycle", "--from", "1", "--to", "2",
                           "--reason", "Longer decision period", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert f"#{case} " in dry.output and ": would be migrated" in dry.output and "dry run" in dry.output
    assert _version_of(engine, case) == 1
    moved = cli.invoke(args=["instances", "migrate", str(case), "--to", "2", "--reason", "Longer decision period",
                             "--by", "ops"])
    assert moved.exit_code == 0, moved.output
    assert "migrated from loan_lifecycle v1 to v2; reset: Decide_Deadline." in moved.output
    assert _version_of(engine, case) == 2
    assert scalar(engine, sa.select(AuditEvent.actor).where(AuditEvent.action == "instance_migrated")) == "ops"
    missing = cli.invoke(args=["instances", "migrate-preview", "999999"])
    assert missing.exit_code == 1 and "No process instance #999999." in missing.output
