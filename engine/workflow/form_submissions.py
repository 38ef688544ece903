"""Submissions to a user task's form: each value read and checked against exactly what the form
says (engine.workflow.forms), hidden fields dropped, problems as codes with parameters so that the
web layer can say them in the reader's language; `MESSAGES` words them in English for the API."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from engine.workflow.errors import ValidationFailed
from engine.workflow.forms import FormDefinition, FormField, number_of

Problem = tuple[str, dict[str, Any]]
MESSAGES = {
    "unknown_field": "Unknown field.",
    "required": "Required.",
    "not_text": "Must be text.",
    "nul": "NUL characters are not allowed.",
    "control_characters": "Control characters are not allowed.",
    "min_length": "At least {min} characters.",
    "max_length": "At most {max} characters.",
    "pattern": "Not in the expected format.",
    "not_a_number": "Not a valid number.",
    "decimal_places": "Too many decimal places (at most {max}).",
    "min": "Must be at least {min}.",
    "max": "Must be at most {max}.",
    "not_an_option": "Not one of the choices.",
    "not_a_boolean": "Must be true or false.",
    "not_a_date": "Not a valid date (YYYY-MM-DD).",
    "in_future": "Cannot be in the future.",
}

_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# Unicode's control characters (C0, DEL, C1) but NUL, which has its own problem.
_CONTROL = re.compile("[\x01-\x1f\x7f-\x9f]")
# Multi-line text keeps tab, line feed and carriage return (browsers send CR LF from a textarea).
_CONTROL_IN_MULTILINE = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def condition_values(form: FormDefinition, data: Mapping[str, Any]) -> dict[str, Any]:
    """What `conditional.hide` compares: each input's value as read from `data` (a number as a
    Decimal, a checkbox as a bool, blank as None; a refused value as it was sent)."""
    return {f.key: read_value(f, data.get(f.key), None)[0] for f in form.inputs if f.key is not None}


def hidden_keys(form: FormDefinition, data: Mapping[str, Any]) -> set[str]:
    """Keys of the inputs that `conditional.hide` hides, evaluated on `data` as submitted."""
    values = condition_values(form, data)
    return {f.key for f in form.inputs if f.key is not None and f.hide is not None and f.hide.holds(values)}


def validate_submission(form: FormDefinition, data: Mapping[str, Any], today: date) -> dict[str, Any]:
    """The normalized value of every visible input (None when an optional one is blank), or
    ValidationFailed with English `errors` and coded `problems` per field. Hidden inputs are
    dropped whatever was sent for them and are never required."""
    readings = {f.key: read_value(f, data.get(f.key), today) for f in form.inputs if f.key is not None}
    values = {key: value for key, (value, _) in readings.items()}
    problems: dict[str, list[Problem]] = {}
    result: dict[str, Any] = {}
    for item in form.inputs:
        assert item.key is not None
        if item.hide is not None and item.hide.holds(values):
            continue
        value, found = readings[item.key]
        if not found and item.required and (value is None or value is False):
            found = [("required", {})]
        if found:
            problems[item.key] = found
        else:
            result[item.key] = output_value(item, value)
    for key in sorted(str(k) for k in data if k not in readings):
        problems[key] = [("unknown_field", {})]
    if problems:
        errors = {key: [message(code, params) for code, params in found] for key, found in problems.items()}
        raise ValidationFailed(errors, problems=problems)
    return result


def message(code: str, params: Mapping[str, Any]) -> str:
    """A problem in English (the API's words)."""
    return MESSAGES.get(code, code).format(**params)


# Reading a submitted value ------------------------------------------------------------------------

def read_value(item: FormField, raw: Any, today: date | None) -> tuple[Any, list[Problem]]:
    """The value (None when blank; what was sent when refused) and its problems in a fixed order.
    `today` None skips the date-not-after-today rule."""
    if item.type == "checkbox":
        if raw is None or isinstance(raw, bool):
            return bool(raw), []
        if raw in ("on", "true", "false"):
            return raw != "false", []
        return raw, [("not_a_boolean", {})]
    if raw is None:
        return None, []
    if isinstance(raw, str):
        if "\x00" in raw:
            return raw, [("nul", {})]
        if not raw.strip():
            return None, []
    if item.type == "number":
        return _read_number(item, raw)
    if not isinstance(raw, str):
        return raw, [(_NOT_TEXT.get(item.type, "not_text"), {})]
    if item.type in ("select", "radio"):
        return raw, [] if any(o.value == raw for o in item.options) else [("not_an_option", {})]
    if item.type == "datetime":
        return _read_date(raw, today if item.not_after_today else None)
    return raw, _text_problems(item, raw)


_NOT_TEXT = {"select": "not_an_option", "radio": "not_an_option", "datetime": "not_a_date"}


def _text_problems(item: FormField, text: str) -> list[Problem]:
    problems: list[Problem] = []
    if (_CONTROL_IN_MULTILINE if item.type == "textarea" else _CONTROL).search(text):
        problems.append(("control_characters", {}))
    if item.min_length is not None and len(text) < item.min_length:
        problems.append(("min_length", {"min": item.min_length}))
    if item.max_length is not None and len(text) > item.max_length:
        problems.append(("max_length", {"max": item.max_length}))
    # The author's regex runs only on text of an allowed length.
    elif item.pattern is not None and not item.pattern.fullmatch(text):
        problems.append(("pattern", {}))
    return problems


def _read_number(item: FormField, raw: Any) -> tuple[Any, list[Problem]]:
    number = number_of(raw)
    if number is None:
        return raw, [("not_a_number", {})]
    value, places = number
    problems: list[Problem] = []
    if places > item.places:
        problems.append(("decimal_places", {"max": item.places}))
    if item.minimum is not None and value < item.minimum:
        problems.append(("min", {"min": str(item.minimum)}))
    if item.maximum is not None and value > item.maximum:
        problems.append(("max", {"max": str(item.maximum)}))
    return value, problems


def _read_date(text: str, not_after: date | None) -> tuple[Any, list[Problem]]:
    try:
        day = date.fromisoformat(text) if _DATE_TEXT.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None:
        return text, [("not_a_date", {})]
    return text, [("in_future", {})] if not_after is not None and day > not_after else []


def output_value(item: FormField, value: Any) -> Any:
    if item.type == "number" and value is not None:
        return f"{value:.{item.places}f}" if item.as_text else int(value)
    return value
