"""Task forms (a subset of form-js JSON): what is refused at deploy time, what a submission must be."""

from __future__ import annotations

import copy
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine.workflow.errors import ModelError, ValidationFailed
from engine.workflow.form_submissions import MESSAGES, hidden_keys, validate_submission
from engine.workflow.forms import parse_form

FORMS = Path(__file__).resolve().parents[2] / "bpmn" / "forms"
TODAY = date(2026, 9, 30)
DECIDE = json.loads((FORMS / "loan_decide.form.json").read_text(encoding="utf-8"))
APPROVAL = {"decision": "approve", "amount": "1000000", "annual_rate": "3.85", "term_months": 12}


def form_with(*components, form_id="sample"):
    return {"type": "default", "id": form_id, "components": list(components)}


def one(kind="textfield", key="value", label="值", **extra):
    return parse_form(form_with({"type": kind, "key": key, "label": label, **extra}))


def problems_of(form, data, today=TODAY):
    with pytest.raises(ValidationFailed) as caught:
        validate_submission(form, data, today)
    return caught.value.problems


def codes_of(form, data, key="value", today=TODAY):
    return [code for code, _ in problems_of(form, data, today)[key]]


def refusal(document) -> str:
    with pytest.raises(ModelError) as caught:
        parse_form(document)
    return str(caught.value)


# Parsing ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["loan_accept", "loan_decide", "loan_disburse", "loan_settle"])
def test_shipped_forms_parse_with_their_file_name_as_key(name):
    form = parse_form((FORMS / f"{name}.form.json").read_bytes())
    assert form.key == name
    assert form.raw["id"] == name


def test_the_decision_form_has_the_api_field_names_in_order():
    form = parse_form(DECIDE)
    assert [f.key for f in form.fields] == ["decision", "amount", "annual_rate", "term_months", "conditions",
                                            "reason", "material_requested", "loan_type", "first_loan", "term_class"]
    amount = form.fields[1]
    assert (amount.number_format, amount.minimum, amount.maximum) == ("money", Decimal("0.01"), Decimal("1E+11"))
    assert form.labels("zh")["amount"] == "授信金额（元）"
    assert form.labels("en")["amount"] == "Credit amount (yuan)"


def test_json_text_bytes_and_dicts_give_the_same_form():
    text = json.dumps(DECIDE, ensure_ascii=False)
    assert parse_form(text) == parse_form(text.encode("utf-8")) == parse_form(DECIDE)


def test_presentation_keys_form_js_writes_are_ignored():
    document = form_with({"type": "textfield", "key": "name", "label": "名称", "id": "Field_1",
                          "layout": {"row": "Row_1", "columns": 8}, "readonly": False, "disabled": False,
                          "appearance": {"prefixAdorner": "¥"}})
    document.update(schemaVersion=16, exporter={"name": "Camunda Modeler", "version": "5.0"})
    assert parse_form(document).fields[0].key == "name"


@pytest.mark.parametrize(("component", "words"), [
    ({"type": "group", "key": "g", "label": "组", "components": []}, "'group' is not supported"),
    ({"type": "dynamiclist", "key": "d", "label": "列表", "components": []}, "'dynamiclist' is not supported"),
    ({"type": "select", "key": "s", "label": "选", "valuesKey": "options"}, "valuesKey not supported"),
    ({"type": "textfield", "key": "t", "label": "文", "validate": {"validationType": "email"}},
     "validate.validationType"),
    ({"type": "textfield", "key": "t", "label": "文", "validate": {"min": 1}}, "validate.min"),
    ({"type": "number", "key": "n", "label": "数", "validate": {"maxLength": 3}}, "validate.maxLength"),
    ({"type": "datetime", "subtype": "datetime", "key": "d", "dateLabel": "日"}, 'subtype "date"'),
    ({"type": "number", "key": "n", "label": "数", "decimalDigits": 7}, "decimalDigits"),
    ({"type": "number", "key": "n", "label": "数", "properties": {"format": "percent"}}, "format"),
    ({"type": "number", "key": "n", "label": "数", "decimalDigits": 3, "properties": {"format": "money"}},
     "2 decimal digits"),
    ({"type": "datetime", "subtype": "date", "key": "d", "label": "日", "properties": {"notAfter": "tomorrow"}},
     "notAfter"),
    ({"type": "textfield", "key": "t", "label": "文", "properties": {"colour": "red"}}, "colour"),
    ({"type": "textfield", "key": "t", "label": "文", "properties": {"en.label": 5}}, "properties"),
    ({"type": "textfield", "key": "t"}, "label is required"),
    ({"type": "radio", "key": "r", "label": "选", "values": []}, "values"),
    ({"type": "radio", "key": "r", "label": "选", "values": [{"label": "一", "value": 1}]}, "values"),
    ({"type": "radio", "key": "r", "label": "选",
      "values": [{"label": "一", "value": "a"}, {"label": "二", "value": "a"}]}, "listed twice"),
    ({"type": "radio", "key": "r", "label": "选", "values": [{"label": "一", "value": "a"}],
      "properties": {"en.values": "b=B"}}, "en.values"),
    ({"type": "radio", "key": "r", "label": "选", "values": [{"label": "一", "value": "a"}], "defaultValue": "b"},
     "defaultValue"),
    ({"type": "number", "key": "n", "label": "数", "validate": {"min": 5, "max": 1}}, "smallest"),
    ({"type": "number", "key": "n", "label": "数", "validate": {"min": "1e3"}}, "validate.min"),
    ({"type": "textfield", "key": "t", "label": "文", "validate": {"required": "yes"}}, "validate.required"),
    ({"type": "textfield", "key": "t", "label": "文", "validate": {"pattern": "("}}, "regular expression"),
    ({"type": "textfield", "key": "t", "label": "文", "validate": {"pattern": "a" * 201}}, "200"),
    ({"type": "text", "key": "t", "text": "说明"}, "key not supported"),
    ({"type": "textfield", "key": "t", "label": "文", "conditional": {"show": "=x = 1"}}, "conditional"),
])
def test_components_the_server_cannot_enforce_are_refused_naming_form_and_field(component, words):
    message = refusal(form_with(component, form_id="loan_decide"))
    assert message.startswith(f"Form loan_decide, field {component['key']}: ")
    assert words in message


@pytest.mark.parametrize("key", ["Amount", "1st", "with-dash", "a" * 65, "", None, "金额"])
def test_bad_keys_are_refused(key):
    message = refusal(form_with({"type": "textfield", "key": key, "label": "文"}))
    assert "Form sample, field" in message and "the key must match" in message


def test_a_key_used_twice_is_refused():
    message = refusal(form_with({"type": "textfield", "key": "name", "label": "一"},
                                {"type": "textarea", "key": "name", "label": "二"}))
    assert message.startswith("Form sample, field name: the key is used by another field")


@pytest.mark.parametrize("document", [
    {"type": "default", "id": "Bad Id", "components": []},
    {"type": "form", "id": "sample", "components": []},
    {"type": "default", "id": "sample", "components": {}},
    [],
])
def test_the_form_itself_must_be_a_default_form_with_a_key_and_components(document):
    assert refusal(document).startswith("Form")


@pytest.mark.parametrize(("raw", "words"), [
    ("{not json", "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
    ('{"type": "default", "type": "default", "id": "a", "components": []}', "repeated"),
    ('{"type": "default", "id": "a", "components": [], "x": NaN}', "not valid JSON"),
    ("[" * 21 + "]" * 21, "deeper than 20"),
    ("[" * 100_000 + "]" * 100_000, "deeper than 20"),
    (json.dumps(form_with({"type": "text", "text": "x" * 210_000})), "200 KB"),
])
def test_bad_or_oversized_json_is_refused(raw, words):
    assert words in refusal(raw)


def test_deep_dicts_are_refused_before_being_serialized():
    document = form_with({"type": "text", "text": "x", "properties": {}})
    nested = document
    for _ in range(25):
        nested["x"] = {}
        nested = nested["x"]
    assert "deeper than 20" in refusal(document)


def test_at_most_200_components():
    components = [{"type": "text", "text": str(n)} for n in range(201)]
    assert "at most 200 components" in refusal(form_with(*components))
    assert len(parse_form(form_with(*components[:200])).fields) == 200


@pytest.mark.parametrize("hide", [
    "decision = \"reject\"",                  # no leading =
    "=decision == \"reject\"",
    "=decision = reject",                     # unquoted
    "=decision = \"reject\" and",
    "=(decision = \"reject\")",
    "=decision = \"reject\" xor amount = 1",
    "=decision in [\"reject\"]",
    "=amount > 5",
    "=decision = \"re\\\"ject\"",
    "=__import__(\"os\") = 1",
    "=",
    "=nobody = 1",                            # not a field of the form
    "=reason = \"x\"",                        # the field itself
    "=amount = 1" + " and amount = 1" * 100,  # too long
    5,
])
def test_conditions_beyond_the_feel_subset_are_refused(hide):
    document = copy.deepcopy(DECIDE)
    document["components"][5]["conditional"] = {"hide": hide}
    assert refusal(document).startswith("Form loan_decide, field reason: conditional")


def test_and_binds_tighter_than_or():
    form = parse_form(form_with(
        {"type": "textfield", "key": "a", "label": "A"}, {"type": "textfield", "key": "b", "label": "B"},
        {"type": "checkbox", "key": "c", "label": "C"}, {"type": "number", "key": "n", "label": "N"},
        {"type": "textfield", "key": "t", "label": "T",
         "conditional": {"hide": '=a = "x" and b != "y" or c = true and n = 5 or a = null'}}))
    assert form.fields[4].hide.as_data() == [[["a", "=", "x"], ["b", "!=", "y"]], [["c", "=", True], ["n", "=", 5]],
                                             [["a", "=", None]]]
    hidden = [({"a": "x", "b": "z", "t": "v"}, True), ({"a": "x", "b": "y"}, False),
              ({"a": "w", "c": True, "n": "5"}, True), ({"a": "w", "c": "on", "n": 5.0}, True),
              ({"a": "w", "c": True, "n": "6"}, False), ({"b": "y"}, True), ({"a": "w", "c": False, "n": 5}, False)]
    for data, expected in hidden:
        assert ("t" in hidden_keys(form, data)) is expected, data


def test_a_number_literal_never_equals_a_string():
    form = parse_form(form_with({"type": "textfield", "key": "code", "label": "C"},
                                {"type": "textfield", "key": "t", "label": "T", "conditional": {"hide": "=code = 5"}}))
    assert hidden_keys(form, {"code": "5"}) == set()


def test_labels_fall_back_to_chinese_in_english():
    form = parse_form(form_with({"type": "radio", "key": "r", "label": "选择", "description": "说明",
                                 "values": [{"label": "甲", "value": "a"}, {"label": "乙", "value": "b"}],
                                 "properties": {"en.values": "a=A"}},
                                {"type": "text", "text": "中文", "properties": {"en.text": "English"}}))
    radio, text = form.fields
    assert (radio.label_in("en"), radio.description_in("en")) == ("选择", "说明")
    assert radio.options_in("en") == [("a", "A"), ("b", "乙")]
    assert radio.options_in("zh") == [("a", "甲"), ("b", "乙")]
    assert (text.text_in("zh"), text.text_in("en")) == ("中文", "English")


# Submissions ---------------------------------------------------------------------------------------

def test_an_approval_is_normalized_and_the_hidden_reason_dropped():
    values = validate_submission(parse_form(DECIDE), {**APPROVAL, "reason": "ignored"}, TODAY)
    assert values == {"decision": "approve", "amount": "1000000.00", "annual_rate": "3.8500", "term_months": 12,
                      "conditions": None, "loan_type": None, "first_loan": None, "term_class": None}


def test_a_rejection_needs_only_its_reason_and_the_approval_fields_are_not_required():
    form = parse_form(DECIDE)
    assert validate_submission(form, {"decision": "reject", "reason": "资料不全"}, TODAY) == {
        "decision": "reject", "reason": "资料不全"}
    assert problems_of(form, {"decision": "reject", "amount": "nonsense"}) == {"reason": [("required", {})]}


def test_nothing_sent_asks_for_the_decision_only():
    assert problems_of(parse_form(DECIDE), {}) == {"decision": [("required", {})]}


def test_an_approval_without_amount_rate_and_term_names_each():
    problems = problems_of(parse_form(DECIDE), {"decision": "approve"})
    assert problems == {key: [("required", {})] for key in ("amount", "annual_rate", "term_months")}


def test_unknown_fields_are_refused_by_name():
    with pytest.raises(ValidationFailed) as caught:
        validate_submission(parse_form(DECIDE), {**APPROVAL, "approved": True, "zzz": 1}, TODAY)
    assert caught.value.problems == {"approved": [("unknown_field", {})], "zzz": [("unknown_field", {})]}
    assert caught.value.errors == {"approved": ["Unknown field."], "zzz": ["Unknown field."]}


def test_english_errors_are_written_from_the_codes():
    with pytest.raises(ValidationFailed) as caught:
        validate_submission(one(validate={"maxLength": 3}), {"value": "四个字符"}, TODAY)
    assert caught.value.errors == {"value": ["At most 3 characters."]}
    assert caught.value.problems == {"value": [("max_length", {"max": 3})]}
    assert set(MESSAGES) >= {"required", "max_length", "min_length", "pattern", "not_a_number", "decimal_places",
                             "min", "max", "not_an_option", "not_a_boolean", "not_a_date", "in_future", "nul",
                             "control_characters", "not_text", "unknown_field"}


@pytest.mark.parametrize("blank", [None, "", "   ", "\n\t"])
def test_blank_is_missing(blank):
    assert codes_of(one(kind="textarea", validate={"required": True}), {"value": blank}) == ["required"]
    assert validate_submission(one(kind="textarea"), {"value": blank}, TODAY) == {"value": None}


def test_lengths_are_counted_in_characters():
    form = one(validate={"minLength": 2, "maxLength": 4})
    assert validate_submission(form, {"value": "贷款合同"}, TODAY) == {"value": "贷款合同"}
    assert validate_submission(form, {"value": "😀😀"}, TODAY) == {"value": "😀😀"}
    assert problems_of(form, {"value": "贷款合同号"})["value"] == [("max_length", {"max": 4})]
    assert problems_of(form, {"value": "贷"})["value"] == [("min_length", {"min": 2})]


def test_a_textfield_is_one_line_and_a_textarea_keeps_tabs_and_line_breaks():
    for text in ("a\nb", "a\tb", "a\rb", "a\x1bb", "a\x85b", "a\x7fb"):
        assert codes_of(one(), {"value": text}) == ["control_characters"], text
    assert validate_submission(one(kind="textarea"), {"value": "a\r\n\tb"}, TODAY) == {"value": "a\r\n\tb"}
    assert codes_of(one(kind="textarea"), {"value": "a\x0bb"}) == ["control_characters"]


@pytest.mark.parametrize("kind", ["textfield", "textarea", "number"])
def test_nul_is_refused_everywhere(kind):
    assert codes_of(one(kind=kind), {"value": "1\x00"}) == ["nul"]
    date_field = one(kind="datetime", subtype="date")
    assert codes_of(date_field, {"value": "2026-01-01\x00"}) == ["nul"]


def test_text_must_be_a_string():
    assert codes_of(one(), {"value": 5}) == ["not_text"]
    assert codes_of(one(kind="textarea"), {"value": ["a"]}) == ["not_text"]


def test_a_pattern_must_match_the_whole_value():
    form = one(validate={"pattern": "[A-Z]{2}[0-9]{4}"})
    assert validate_submission(form, {"value": "HT2026"}, TODAY) == {"value": "HT2026"}
    assert problems_of(form, {"value": "HT2026x"}) == {"value": [("pattern", {})]}
    assert problems_of(form, {"value": "xHT2026"}) == {"value": [("pattern", {})]}


def test_every_problem_of_a_value_is_listed_in_a_fixed_order():
    form = one(validate={"minLength": 3, "pattern": "[a-z]+"})
    assert codes_of(form, {"value": "A\n"}) == ["control_characters", "min_length", "pattern"]


@pytest.mark.parametrize(("sent", "kept"), [
    (12, 12), ("12", 12), ("012", 12), (12.0, 12), ("12.0", 12), ("-0", 0), (0, 0),
])
def test_whole_numbers_become_ints(sent, kept):
    value = validate_submission(one(kind="number"), {"value": sent}, TODAY)["value"]
    assert value == kept and type(value) is int


@pytest.mark.parametrize("sent", [
    True, False, "1e3", "1E3", " 12", "12 ", "+12", "1,000", "１２", "١٢", "NaN", "inf", "Infinity", float("nan"),
    float("inf"), 1e20, "12.", ".5", "0x10", "1_000", [], {}, "一",
])
def test_anything_but_plain_ascii_numbers_is_not_a_number(sent):
    assert codes_of(one(kind="number"), {"value": sent}) == ["not_a_number"]


def test_places_are_checked_and_the_value_kept_as_exact_text():
    form = one(kind="number", decimalDigits=2)
    assert validate_submission(form, {"value": "3.1"}, TODAY) == {"value": "3.10"}
    assert validate_submission(form, {"value": 2.5}, TODAY) == {"value": "2.50"}
    assert validate_submission(form, {"value": "3.100"}, TODAY) == {"value": "3.10"}
    assert problems_of(form, {"value": "3.105"}) == {"value": [("decimal_places", {"max": 2})]}
    assert problems_of(form, {"value": 0.1 + 0.2}) == {"value": [("decimal_places", {"max": 2})]}
    assert problems_of(one(kind="number"), {"value": "1.5"}) == {"value": [("decimal_places", {"max": 0})]}


def test_min_and_max():
    form = one(kind="number", validate={"min": 1, "max": 360})
    assert validate_submission(form, {"value": 360}, TODAY) == {"value": 360}
    assert validate_submission(form, {"value": "1"}, TODAY) == {"value": 1}
    assert problems_of(form, {"value": 0}) == {"value": [("min", {"min": "1"})]}
    assert problems_of(form, {"value": "-5"}) == {"value": [("min", {"min": "1"})]}
    assert problems_of(form, {"value": 361}) == {"value": [("max", {"max": "360"})]}
    assert problems_of(form, {"value": 10 ** 40}) == {"value": [("max", {"max": "360"})]}
    assert codes_of(form, {"value": "0.5"}) == ["decimal_places", "min"]


@pytest.mark.parametrize(("sent", "kept"), [
    ("0.01", "0.01"), ("1000000", "1000000.00"), ("100000000000.00", "100000000000.00"), ("1.5", "1.50"),
    (1000, "1000.00"), ("99999999999.99", "99999999999.99"),
])
def test_money_is_kept_exact_with_two_places(sent, kept):
    form = one(kind="number", properties={"format": "money"})
    assert validate_submission(form, {"value": sent}, TODAY) == {"value": kept}


@pytest.mark.parametrize(("sent", "problem"), [
    ("1.005", ("decimal_places", {"max": 2})), ("100000000000.01", ("max", {"max": "100000000000.00"})),
    ("0", ("min", {"min": "0.01"})), ("0.00", ("min", {"min": "0.01"})), ("-1", ("min", {"min": "0.01"})),
    (1e11 + 0.01, ("max", {"max": "100000000000.00"})),
])
def test_money_out_of_range_or_with_fractions_of_fen_is_refused(sent, problem):
    form = one(kind="number", properties={"format": "money"})
    assert problems_of(form, {"value": sent}) == {"value": [problem]}


def test_a_money_field_narrowed_by_validate():
    form = one(kind="number", validate={"max": 500}, properties={"format": "money"})
    assert problems_of(form, {"value": "500.01"}) == {"value": [("max", {"max": "500"})]}


@pytest.mark.parametrize(("sent", "outcome"), [
    ("3.85", "3.8500"), ("36", "36.0000"), ("0.0001", "0.0001"), (4.35, "4.3500"),
    ("3.85001", ("decimal_places", {"max": 4})), ("36.0001", ("max", {"max": "36"})), ("0", ("min", {"min": "0.0001"})),
])
def test_rates_have_four_places_up_to_36(sent, outcome):
    form = one(kind="number", properties={"format": "rate"})
    if isinstance(outcome, str):
        assert validate_submission(form, {"value": sent}, TODAY) == {"value": outcome}
    else:
        assert problems_of(form, {"value": sent}) == {"value": [outcome]}


def test_choices_must_be_among_the_options():
    form = parse_form(DECIDE)
    assert problems_of(form, {"decision": "maybe"}) == {"decision": [("not_an_option", {})]}
    assert problems_of(form, {"decision": "Approve"}) == {"decision": [("not_an_option", {})]}
    assert problems_of(form, {"decision": 1}) == {"decision": [("not_an_option", {})]}
    select = one(kind="select", values=[{"label": "甲", "value": "a"}])
    assert validate_submission(select, {"value": "a"}, TODAY) == {"value": "a"}
    assert codes_of(select, {"value": "b"}) == ["not_an_option"]


@pytest.mark.parametrize(("sent", "kept"), [
    (True, True), (False, False), ("on", True), ("true", True), ("false", False), (None, False),
])
def test_checkboxes_take_booleans_and_the_html_strings(sent, kept):
    assert validate_submission(one(kind="checkbox"), {"value": sent}, TODAY) == {"value": kept}


def test_an_absent_checkbox_is_false_and_a_required_one_must_be_ticked():
    assert validate_submission(one(kind="checkbox"), {}, TODAY) == {"value": False}
    form = one(kind="checkbox", validate={"required": True})
    assert codes_of(form, {}) == ["required"]
    assert codes_of(form, {"value": False}) == ["required"]
    for sent in ("yes", 1, 0, "", "True"):
        assert codes_of(one(kind="checkbox"), {"value": sent}) == ["not_a_boolean"], sent


def test_dates_are_iso_dates_not_after_today_when_asked():
    form = parse_form((FORMS / "loan_settle.form.json").read_bytes())
    assert validate_submission(form, {"settled_on": "2026-09-30"}, TODAY) == {"settled_on": "2026-09-30"}
    assert problems_of(form, {"settled_on": "2026-10-01"}) == {"settled_on": [("in_future", {})]}
    for sent in ("2026-9-30", "2026-02-30", "30/09/2026", "２０２６-09-30", "2026-09-30T00:00", 20260930):
        assert problems_of(form, {"settled_on": sent}) == {"settled_on": [("not_a_date", {})]}, sent
    anytime = one(kind="datetime", subtype="date")
    assert validate_submission(anytime, {"value": "2030-01-01"}, TODAY) == {"value": "2030-01-01"}


def test_the_disbursement_form():
    form = parse_form((FORMS / "loan_disburse.form.json").read_bytes())
    sent = {"contract_number": "HT-2026-001", "amount": "500000", "disbursed_on": "2026-09-29"}
    assert validate_submission(form, sent, TODAY) == {**sent, "amount": "500000.00", "account": None,
                                                      "loan_type": None, "first_loan": None, "term_class": None}
    problems = problems_of(form, {"contract_number": "x" * 65, "amount": "1.005", "disbursed_on": "2026-10-01",
                                  "account": "6222\n0212"})
    assert problems == {"contract_number": [("max_length", {"max": 64})],
                        "amount": [("decimal_places", {"max": 2})], "disbursed_on": [("in_future", {})],
                        "account": [("control_characters", {})]}


def test_defaults_are_checked_and_normalized():
    assert one(kind="number", defaultValue=5, properties={"format": "money"}).fields[0].default == "5.00"
    assert "defaultValue" in refusal(form_with({"type": "number", "key": "n", "label": "数",
                                                "defaultValue": "lots"}))
    assert "defaultValue" in refusal(form_with({"type": "checkbox", "key": "c", "label": "勾",
                                                "defaultValue": "yes"}))


def test_display_text_takes_no_value():
    form = parse_form(form_with({"type": "text", "text": "请核对"},
                                {"type": "textfield", "key": "name", "label": "名"}))
    assert [f.key for f in form.inputs] == ["name"]
    assert validate_submission(form, {"name": "甲"}, TODAY) == {"name": "甲"}


def test_zero_is_a_value_not_a_missing_one():
    form = one(kind="number", validate={"required": True})
    assert validate_submission(form, {"value": 0}, TODAY) == {"value": 0}
    assert validate_submission(form, {"value": "0"}, TODAY) == {"value": 0}
