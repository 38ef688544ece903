"""Deploying models: versions, validation, safe XML parsing, and scripts kept in the sandbox."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from engine.loans import services
from engine.loans.binding import LOAN_PROCESS_KEY
from engine.models import LoanApplication, ProcessDefinition, ProcessInstance
from engine.workflow.definitions import BPMN_DIR, deploy, latest_definition
from engine.workflow.errors import ModelError, ScriptSecurityError
from tests.conftest import scalar

LOAN_XML = (BPMN_DIR / "loan_lifecycle.bpmn").read_text(encoding="utf-8")
# Versions of the loan model (the other shipped models are seeded beside it).
_LOAN_VERSIONS = sa.select(sa.func.count()).select_from(ProcessDefinition).where(
    ProcessDefinition.key == LOAN_PROCESS_KEY)


def _deploy(engine, xml):
    with engine.transaction() as session:
        definition = deploy(session, xml, "author", engine.clock)
        return definition.key, definition.version


def test_the_shipped_model_is_deployed_once(engine):
    assert _deploy(engine, LOAN_XML) == (LOAN_PROCESS_KEY, 1)
    assert scalar(engine, _LOAN_VERSIONS) == 1


def test_a_changed_model_becomes_the_next_version_and_running_instances_keep_theirs(engine, parties, submit):
    first = submit()
    changed = LOAN_XML.replace("decision_paused_working_days = 0",
                               "decision_paused_working_days = 0\naccept_working_days = 5")
    assert _deploy(engine, changed) == (LOAN_PROCESS_KEY, 2)
    second = submit()
    with engine.transaction() as session:
        versions = dict(session.execute(
            sa.select(LoanApplication.id, ProcessDefinition.version)
            .join(ProcessInstance, ProcessInstance.id == LoanApplication.instance_id)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        ).all())
        dues = dict(session.execute(sa.select(LoanApplication.id, LoanApplication.accept_due)).all())
        assert latest_definition(session, LOAN_PROCESS_KEY).version == 2
    assert versions == {first: 1, second: 2}
    # 2026-09-30 + 5 working days under version 2: 10/8, 10/9, 10/10, 10/12, 10/13.
    assert dues[first].isoformat() == "2026-10-10T16:00:00+00:00"
    assert dues[second].isoformat() == "2026-10-13T16:00:00+00:00"
    engine.forget_live_workflows()
    services.accept(engine, parties.officer_a, first)  # the old version still runs


@pytest.mark.parametrize("xml", [
    "not xml at all",
    "<definitions/>",
    LOAN_XML.replace('targetRef="Decide"', 'targetRef="Nowhere"', 1),
    LOAN_XML.replace('decision == "approve"', 'decision ==== "approve"'),
    LOAN_XML.replace("add_working_days(submitted_at, accept_working_days)", "add_working_days(submitted_at"),
])
def test_invalid_models_are_refused_with_a_clear_error(engine, xml):
    with pytest.raises(ModelError) as info:
        _deploy(engine, xml)
    assert str(info.value)
    assert scalar(engine, _LOAN_VERSIONS) == 1


def test_external_entities_are_never_resolved(engine, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    xxe = LOAN_XML.replace(
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>',
    )
    with pytest.raises(ModelError, match="DOCTYPE"):
        _deploy(engine, xxe)


def test_billion_laughs_is_refused(engine):
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><lolz>&lol2;</lolz>')
    with pytest.raises(ModelError):
        _deploy(engine, bomb)


@pytest.mark.parametrize(("script", "message"), [
    ("accept_working_days = ().__class__.__base__.__subclasses__()", "__class__"),
    ("accept_working_days = __import__('os')", "__import__"),
    ("import os\ndecision_paused_working_days = 0", "Imports are not allowed"),
    ("accept_working_days = 10 ** 10 ** 10", "Power"),
])
def test_a_model_whose_script_escapes_the_sandbox_is_refused_at_deploy(engine, script, message):
    with pytest.raises(ModelError, match=message):
        _deploy(engine, LOAN_XML.replace("decision_paused_working_days = 0", script))
    assert scalar(engine, _LOAN_VERSIONS) == 1


def test_a_model_with_an_endless_loop_is_stopped_at_run_time_and_changes_nothing(engine, submit):
    _deploy(engine, LOAN_XML.replace("decision_paused_working_days = 0",
                                     "while True:\n    pass\ndecision_paused_working_days = 0"))
    with pytest.raises(ScriptSecurityError, match="budget"):
        submit()
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 0
    assert scalar(engine, sa.select(sa.func.count()).select_from(ProcessInstance)) == 0
