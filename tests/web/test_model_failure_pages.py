"""A model that fails at a step answers the person with a page in their language, never a 500 or JSON."""

from __future__ import annotations

import sqlalchemy as sa

from engine.models import LoanApplication
from engine.workflow.definitions import deploy
from tests.conftest import scalar
from tests.engine.hostile_models import SHIPPED


def test_a_model_failing_at_submission_shows_a_chinese_page_and_changes_nothing(browser, engine, parties):
    xml = SHIPPED.read_text(encoding="utf-8").replace(
        "<spiffworkflow:postScript>decision_paused_working_days = 0",
        "<spiffworkflow:postScript>broken = 1 / int('0')\ndecision_paused_working_days = 0", 1)
    with engine.transaction() as session:
        deploy(session, xml, "author", engine.clock)
    enterprise = browser("ent-user")
    response = enterprise.post("/my/applications/new", {
        "product": f"{parties.bank_a_id}:{parties.product_a_id}", "amount": "500000.00",
        "term_months": "12", "purpose": "采购原材料", "authorize": "yes"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[:500]
    assert response.content_type.startswith("text/html")
    assert "流程模型在这一步出错" in page and "ZeroDivisionError" not in page
    assert scalar(engine, sa.select(sa.func.count()).select_from(LoanApplication)) == 0


def test_engine_refusals_no_view_handled_become_pages_with_the_apis_status(web_app):
    from engine.workflow.errors import Forbidden, RateLimited, TransientConflict
    from web.views import engine_error_page

    with web_app.test_request_context("/inbox"):
        page, status = engine_error_page(TransientConflict("deadlock"))
        assert status == 409 and "有人在同一时刻修改了这条记录" in page
        page, status = engine_error_page(Forbidden("not yours"))
        assert status == 404 and "not yours" not in page  # what one may not see does not exist
        page, status = engine_error_page(RateLimited("slow down", retry_after=5))
        assert status == 429 and "尝试次数过多" in page
