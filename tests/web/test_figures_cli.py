"""`flask figures check` compares the kept figures with a scan; `flask figures rebuild` repairs them."""

from __future__ import annotations

import sqlalchemy as sa

from engine.loans import services
from engine.models import DailyFigures
from tests.conftest import APPROVAL


def test_the_check_passes_fails_after_tampering_and_passes_after_a_rebuild(web_app, engine, parties, submit):
    application_id = submit()
    services.accept(engine, parties.officer_a, application_id)
    services.approve(engine, parties.officer_a, application_id, APPROVAL)
    cli = web_app.test_cli_runner()
    result = cli.invoke(args=["figures", "check"])
    assert result.exit_code == 0 and "The kept figures equal a scan (2 institutions, 12 weeks)." in result.output
    with engine.transaction() as session:
        session.execute(sa.update(DailyFigures).values(accepted=DailyFigures.accepted + 1))
    result = cli.invoke(args=["figures", "check"])
    assert result.exit_code == 1 and "differ from a scan in: today, institutions, weeks" in result.output
    assert cli.invoke(args=["figures", "rebuild"]).exit_code == 0
    assert cli.invoke(args=["figures", "check"]).exit_code == 0
