"""Task forms on pages: what templates/task_form.html draws, posted fields read back, problems translated."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l

from engine.workflow.form_submissions import condition_values, message
from engine.workflow.forms import FormDefinition, FormField, fill_template

# Every problem code the engine words (engine.workflow.forms, and the loan steps' own checks).
PROBLEMS = {
    "unknown_field": _l("Unknown field."),
    "required": _l("Required."),
    "not_text": _l("Must be text."),
    "nul": _l("NUL characters are not allowed."),
    "control_characters": _l("Control characters are not allowed."),
    "min_length": _l("At least %(min)s characters."),
    "max_length": _l("At most %(max)s characters."),
    "pattern": _l("Not in the expected format."),
    "not_a_number": _l("Not a valid number."),
    "decimal_places": _l("Too many decimal places (at most %(max)s)."),
    "min": _l("Must be at least %(min)s."),
    "max": _l("Must be at most %(max)s."),
    "not_an_option": _l("Not one of the choices."),
    "not_a_boolean": _l("Must be true or false."),
    "not_a_date": _l("Not a valid date (YYYY-MM-DD)."),
    "in_future": _l("Cannot be in the future."),
    "above_approved": _l("Cannot exceed the approved amount."),
    "above_request_without_reason": _l("More than requested (%(requested)s) needs a reason in the conditions."),
    "before_previous_step": _l("Cannot be before the previous step."),
    "before_disbursement": _l("Cannot be before the disbursement date."),
    "no_such_colleague": _l("No such colleague at your institution."),
    "already_disputed": _l("An objection to this value is open already."),
    "not_correctable": _l("A credit decision cannot be corrected here; uphold it with an explanation."),
    "unchanged": _l("The new value is the value on record."),
}
INPUT_TYPES = {"number": "number", "datetime": "date"}


@dataclass
class Choice:
    value: str
    label: str
    selected: bool


@dataclass
class FieldView:
    """One component as the template draws it, in the reader's language."""

    type: str
    key: str | None
    html_id: str
    label: str = ""
    description: str = ""
    text: str = ""
    required: bool = False
    value: str = ""
    checked: bool = False
    choices: list[Choice] = field(default_factory=list)
    input_type: str = "text"
    inputmode: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    hidden: bool = False
    hide_when: str | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def described_by(self) -> str:
        """The ids aria-describedby names: the description and the error text, when there are."""
        ids = [f"{self.html_id}-description"] if self.description else []
        return " ".join(ids + ([f"{self.html_id}-error"] if self.errors else []))


@dataclass
class FormView:
    key: str
    fields: list[FieldView]

    @property
    def has_conditions(self) -> bool:
        return any(f.hide_when for f in self.fields)


def translate_problem(code: str, params: Mapping[str, Any] | None = None) -> str:
    """A problem in the interface language (an unknown code in the engine's English words)."""
    template = PROBLEMS.get(code)
    if template is None:
        return message(code, params or {})
    return str(template) % dict(params or {}) if params else str(template)


def default_values(form: FormDefinition) -> dict[str, Any]:
    """What a fresh form shows: each input's defaultValue."""
    return {f.key: f.default for f in form.inputs if f.key is not None and f.default is not None}


def form_context(form: FormDefinition, values: Mapping[str, Any] | None,
                 problems: Mapping[str, list[tuple[str, dict[str, Any]]]] | None, language: str,
                 *, today: date | None = None, id_prefix: str = "field",
                 shown: Mapping[str, Any] | None = None) -> FormView:
    """The fields of `form` with labels in `language`, `values` kept (the defaults when None),
    problems translated, and each conditional field shown or hidden as the values decide."""
    values = default_values(form) if values is None else values
    seen = condition_values(form, values)
    views = []
    for index, item in enumerate(form.fields):
        html_id = f"{id_prefix}-{item.key or index}"
        view = FieldView(item.type, item.key, html_id, label=item.label_in(language),
                         description=item.description_in(language),
                         text=fill_template(item.text_in(language), shown or {}),
                         required=item.required, hidden=item.hide is not None and item.hide.holds(seen),
                         hide_when=json.dumps(item.hide.as_data()) if item.hide else None,
                         errors=[translate_problem(code, params) for code, params in (problems or {}).get(
                             item.key or "", [])])
        if item.key is not None:
            _fill(view, item, values.get(item.key), language, today)
        views.append(view)
    return FormView(form.key, views)


def _fill(view: FieldView, item: FormField, value: Any, language: str, today: date | None) -> None:
    view.value = _as_text(value)
    view.checked = value is True or value in ("on", "true")
    view.choices = [Choice(option, label, option == view.value) for option, label in item.options_in(language)]
    view.input_type = INPUT_TYPES.get(item.type, "text")
    if item.number_format:  # exact decimals: a text box with a decimal keypad, no float rounding
        view.input_type, view.inputmode = "text", "decimal"
    elif item.type == "number":
        view.attributes["step"] = str(Decimal(1).scaleb(-item.places))
        for name, bound in (("min", item.minimum), ("max", item.maximum)):
            if bound is not None:
                view.attributes[name] = str(bound)
    if item.type == "datetime" and item.not_after_today and today is not None:
        view.attributes["max"] = today.isoformat()


def _as_text(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return ""
    return str(value)


def form_data_from_request(form: FormDefinition, posted: Mapping[str, str]) -> dict[str, Any]:
    """The posted fields of `form` as validate_submission takes them: a checkbox absent is false,
    an optional field left empty is left out, anything else posted (the CSRF token) is ignored."""
    data: dict[str, Any] = {}
    for item in form.inputs:
        if item.key is None:
            continue
        value = posted.get(item.key)
        if item.type == "checkbox":
            data[item.key] = value is not None and value != "false"
        elif value is not None and (value != "" or item.required):
            data[item.key] = value
    return data
