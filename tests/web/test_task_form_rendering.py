"""A task's form drawn on the page: labels and errors in the reader's language, values kept, accessible."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from flask import render_template_string
from werkzeug.datastructures import MultiDict

from engine.workflow.errors import ValidationFailed
from engine.workflow.form_submissions import validate_submission
from engine.workflow.forms import parse_form
from web.task_forms import form_context, form_data_from_request, translate_problem

FORMS = Path(__file__).resolve().parents[2] / "bpmn" / "forms"
TODAY = date(2026, 9, 30)
DECIDE = parse_form((FORMS / "loan_decide.form.json").read_bytes())
DISBURSE = parse_form((FORMS / "loan_disburse.form.json").read_bytes())
POSTED = MultiDict({"csrf_token": "t", "decision": "approve", "amount": "1.005", "annual_rate": "",
                    "term_months": "400", "conditions": "须提供担保", "reason": ""})
PAGE = '<form method="post">{% from "task_form.html" import render_fields %}{{ render_fields(ctx) }}</form>'


def render(web_app, form, posted, language):
    """The form as drawn after `posted` was refused, in `language`."""
    data = form_data_from_request(form, posted) if posted is not None else None
    problems = None
    if data is not None:
        with pytest.raises(ValidationFailed) as caught:
            validate_submission(form, data, TODAY)
        problems = caught.value.problems
    with web_app.test_request_context(f"/?lang={language}"):
        ctx = form_context(form, dict(posted.items()) if posted is not None else None, problems, language,
                           today=TODAY)
        return render_template_string(PAGE, ctx=ctx)


def tag(html: str, html_id: str) -> str:
    match = re.search(rf'<(?:input|textarea|select|fieldset)\b[^>]*\bid="{html_id}"[^>]*>', html)
    assert match, f"no control with id {html_id}"
    return match.group(0)


def wrapper(html: str, key: str) -> str:
    match = re.search(rf'<div class="form-field" id="field-{key}-field"[^>]*>', html)
    assert match, f"no wrapper for {key}"
    return match.group(0)


def test_refused_decision_is_drawn_in_chinese_with_its_errors_and_values(web_app):
    html = render(web_app, DECIDE, POSTED, "zh")
    for label in ("审批结论", "授信金额（元）", "年利率（%）", "期限（月）", "授信条件", "批准授信"):
        assert label in html
    assert "小数位数过多（最多 2 位）。" in html
    assert "必填。" in html
    assert "不能大于 360。" in html
    assert "Required." not in html and "decimal places" not in html
    assert 'value="1.005"' in tag(html, "field-amount")
    assert 'value="400"' in tag(html, "field-term_months")
    assert re.search(r'<textarea[^>]*id="field-conditions"[^>]*>\n须提供担保</textarea>', html)
    assert "checked" in tag(html, "field-decision-1") and "checked" not in tag(html, "field-decision-2")


def test_fields_are_labelled_marked_and_described_for_assistive_technology(web_app):
    html = render(web_app, DECIDE, POSTED, "zh")
    assert re.search(r'<label for="field-amount">授信金额（元）<span class="red" aria-hidden="true"> \*</span></label>',
                     html)
    assert re.search(r'<label for="field-conditions">授信条件</label>', html)  # optional: no marker
    amount = tag(html, "field-amount")
    assert 'aria-invalid="true"' in amount and 'aria-required="true"' in amount
    assert 'aria-describedby="field-amount-error"' in amount
    assert 'inputmode="decimal"' in amount and 'type="text"' in amount
    assert re.search(r'<span id="field-amount-error" class="error" role="alert">', html)
    conditions = tag(html, "field-conditions")
    assert 'aria-describedby="field-conditions-description"' in conditions and "aria-invalid" not in conditions
    term = tag(html, "field-term_months")
    assert 'type="number"' in term and 'min="1"' in term and 'max="360"' in term and 'step="1"' in term
    decision = tag(html, "field-decision")
    assert decision.startswith("<fieldset") and 'role="radiogroup"' in decision
    assert "<legend>审批结论" in html


def test_the_hidden_reason_is_drawn_hidden_and_disabled_with_its_condition(web_app):
    html = render(web_app, DECIDE, POSTED, "zh")
    reason = wrapper(html, "reason")
    assert " hidden" in reason
    assert 'data-hide-when="[[[&#34;decision&#34;, &#34;!=&#34;, &#34;reject&#34;]]]"' in reason
    assert " disabled" in tag(html, "field-reason")
    assert " hidden" not in wrapper(html, "amount") and " disabled" not in tag(html, "field-amount")
    assert "/static/task_form.js" in html
    assert "<script>" not in html  # no inline script (CSP)


def test_a_rejection_shows_the_reason_and_hides_the_approval_fields(web_app):
    posted = MultiDict({"decision": "reject", "reason": "", "amount": "5"})
    html = render(web_app, DECIDE, posted, "zh")
    assert " hidden" not in wrapper(html, "reason")
    assert "必填。" in html
    for key in ("amount", "annual_rate", "term_months", "conditions"):
        assert " hidden" in wrapper(html, key), key


def test_the_fresh_form_shows_the_defaults(web_app):
    html = render(web_app, DECIDE, None, "zh")
    assert "checked" in tag(html, "field-decision-1")
    assert " hidden" in wrapper(html, "reason") and " hidden" not in wrapper(html, "amount")
    assert 'class="error"' not in html


def test_in_english_the_en_labels_and_english_errors_appear(web_app):
    html = render(web_app, DECIDE, POSTED, "en")
    for label in ("Decision", "Credit amount (yuan)", "Annual rate (%)", "Term (months)", "Conditions",
                  "Reason for rejection", "Approve", "Reject", "Shown to the enterprise."):
        assert label in html
    assert "授信金额" not in html
    assert "Too many decimal places (at most 2)." in html
    assert "Must be at most 360." in html


def test_a_date_not_after_today_is_capped_in_the_browser_too(web_app):
    posted = MultiDict({"contract_number": "HT-1", "amount": "100", "disbursed_on": "2026-10-01", "account": ""})
    html = render(web_app, DISBURSE, posted, "zh")
    disbursed_on = tag(html, "field-disbursed_on")
    assert 'type="date"' in disbursed_on and 'max="2026-09-30"' in disbursed_on and 'value="2026-10-01"' in disbursed_on
    assert "不能晚于今天。" in html
    assert "放款日期" in html and "合同（借据）编号" in html


def test_posted_fields_become_submission_data():
    data = form_data_from_request(DECIDE, POSTED)
    assert data == {"decision": "approve", "amount": "1.005", "annual_rate": "", "term_months": "400",
                    "conditions": "须提供担保", "reason": ""}
    assert "csrf_token" not in data
    assert form_data_from_request(DISBURSE, MultiDict({"account": "", "amount": "1"})) == {"amount": "1"}
    checkbox = parse_form({"type": "default", "id": "c", "components": [
        {"type": "checkbox", "key": "agreed", "label": "同意"}]})
    assert form_data_from_request(checkbox, MultiDict()) == {"agreed": False}
    assert form_data_from_request(checkbox, MultiDict({"agreed": "on"})) == {"agreed": True}


def test_every_problem_code_has_a_chinese_text(web_app):
    codes = {"unknown_field": {}, "required": {}, "not_text": {}, "nul": {}, "control_characters": {},
             "min_length": {"min": 2}, "max_length": {"max": 4}, "pattern": {}, "not_a_number": {},
             "decimal_places": {"max": 2}, "min": {"min": "1"}, "max": {"max": "360"}, "not_an_option": {},
             "not_a_boolean": {}, "not_a_date": {}, "in_future": {}}
    with web_app.test_request_context("/?lang=zh"):
        for code, params in codes.items():
            text = translate_problem(code, params)
            assert re.search(r"[\u4e00-\u9fff]", text), (code, text)
            for value in params.values():
                assert str(value) in text
        assert translate_problem("something_new", {}) == "something_new"
