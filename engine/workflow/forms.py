"""User task forms: a subset of @bpmn-io/form-js JSON, parsed at deploy time, enforced on submission.

A form is refused unless the server understands every rule in it: a submission is checked against
exactly what the form says, so a rule the server could not enforce (an unknown component or
validation key, a FEEL expression beyond the subset) must not reach production. Presentation keys
form-js writes for its editor are ignored. Problems are codes with parameters, so that the web
layer can say them in the reader's language; `MESSAGES` words them in English for the API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from engine.workflow.errors import ModelError
from engine.workflow.form_conditions import KEY, Condition, ConditionError, parse_condition
from engine.workflow.form_json import load_form_json

MAX_COMPONENTS = 200
MAX_PATTERN_LENGTH = 200

_COMMON = frozenset({"type", "key", "label", "description", "defaultValue", "validate", "conditional", "properties"})
COMPONENT_KEYS = {
    "textfield": _COMMON, "textarea": _COMMON, "number": _COMMON | {"decimalDigits"},
    "select": _COMMON | {"values"}, "radio": _COMMON | {"values"}, "checkbox": _COMMON,
    "datetime": _COMMON | {"subtype", "dateLabel"},
    "text": frozenset({"type", "id", "text", "conditional", "properties"}),
}
# Written by form-js for its editor and layout; nothing in them is for the server to enforce.
PRESENTATION_KEYS = frozenset({"id", "layout", "readonly", "disabled", "appearance", "placeholder", "searchable",
                               "increment", "serializeToString"})
_TEXT_RULES = frozenset({"required", "minLength", "maxLength", "pattern"})
VALIDATE_KEYS = {"textfield": _TEXT_RULES, "textarea": _TEXT_RULES, "number": frozenset({"required", "min", "max"}),
                 "select": frozenset({"required"}), "radio": frozenset({"required"}),
                 "checkbox": frozenset({"required"}), "datetime": frozenset({"required"})}
_LABELS = frozenset({"en.label", "en.description"})
PROPERTY_KEYS = {"textfield": _LABELS, "textarea": _LABELS, "number": _LABELS | {"format"},
                 "select": _LABELS | {"en.values"}, "radio": _LABELS | {"en.values"}, "checkbox": _LABELS,
                 "datetime": _LABELS | {"notAfter"}, "text": frozenset({"en.text"})}
# (decimal places, smallest, largest) of the number formats: exact decimals kept as text.
FORMATS = {"money": (2, Decimal("0.01"), Decimal("100000000000.00")), "rate": (4, Decimal("0.0001"), Decimal("36"))}


_NUMBER_TEXT = re.compile(r"-?[0-9]{1,60}(?:\.[0-9]{1,60})?", re.ASCII)


class _Bad(Exception):
    """Why one component is refused; parse_form names the form and the component."""


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    en_label: str | None = None


@dataclass(frozen=True)
class FormField:
    """One component: an input with a key, or display text (`type` "text", no key)."""

    type: str
    key: str | None
    label: str = ""
    description: str = ""
    text: str = ""
    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    pattern: re.Pattern[str] | None = None
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    decimal_digits: int | None = None
    number_format: str | None = None
    not_after_today: bool = False
    options: tuple[Option, ...] = ()
    hide: Condition | None = None
    default: Any = None
    properties: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def places(self) -> int:
        """Decimal places a number may have (money 2, rate 4, else decimalDigits)."""
        if self.number_format:
            return FORMATS[self.number_format][0]
        return self.decimal_digits or 0

    @property
    def as_text(self) -> bool:
        """Numbers with places are kept as exact decimal text; whole numbers as int."""
        return self.type == "number" and (self.number_format is not None or self.places > 0)

    def label_in(self, language: str) -> str:
        return self._english("en.label", self.label) if language == "en" else self.label

    def description_in(self, language: str) -> str:
        return self._english("en.description", self.description) if language == "en" else self.description

    def text_in(self, language: str) -> str:
        return self._english("en.text", self.text) if language == "en" else self.text

    def options_in(self, language: str) -> list[tuple[str, str]]:
        """(value, label) of each choice in the language (English falls back to the Chinese label)."""
        return [(o.value, (o.en_label or o.label) if language == "en" else o.label) for o in self.options]

    def _english(self, name: str, fallback: str) -> str:
        return self.properties.get(name) or fallback


@dataclass(frozen=True)
class FormDefinition:
    key: str
    fields: tuple[FormField, ...]
    raw: dict[str, Any] = field(compare=False)

    @property
    def inputs(self) -> tuple[FormField, ...]:
        """The fields that take a value (every component but display text)."""
        return tuple(f for f in self.fields if f.key is not None)

    def labels(self, language: str) -> dict[str, str]:
        return {f.key: f.label_in(language) for f in self.inputs if f.key is not None}

    @property
    def shown_variables(self) -> set[str]:
        """The process variables the form's display texts show (`{{ name }}`, form-js templating)."""
        return {name for f in self.fields if f.type == "text"
                for text in (f.text, f.properties.get("en.text", "")) for name in TEMPLATE.findall(text)}


# A display text shows a process variable by name (form-js's templating, variables only).
TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")


def fill_template(text: str, values: Mapping[str, Any]) -> str:
    """A display text with each `{{ name }}` replaced by the variable's value (empty when unset)."""
    def value_of(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        return "" if value is None else str(value)[:2000]
    return TEMPLATE.sub(value_of, text)


def parse_form(raw: str | bytes | dict[str, Any]) -> FormDefinition:
    """Parse and check a form-js schema; refuse (ModelError) anything the server cannot enforce."""
    document = load_form_json(raw)
    form_key = document.get("id")
    if document.get("type") != "default":
        raise ModelError(f"Form {form_key!r}: the type must be \"default\".")
    if not isinstance(form_key, str) or not KEY.fullmatch(form_key):
        raise ModelError(f"Form {form_key!r}: the id (the form key) must match {KEY.pattern}.")
    components = document.get("components")
    if not isinstance(components, list):
        raise ModelError(f"Form {form_key}: components must be a list.")
    if len(components) > MAX_COMPONENTS:
        raise ModelError(f"Form {form_key}: at most {MAX_COMPONENTS} components, not {len(components)}.")
    fields: list[FormField] = []
    for index, component in enumerate(components):
        try:
            fields.append(_component(component, {f.key for f in fields}))
        except _Bad as bad:
            raise ModelError(f"Form {form_key}, field {_name(component, index)}: {bad}", form=form_key) from None
    keys = {f.key for f in fields if f.key is not None}
    for index, parsed in enumerate(fields):
        strangers = sorted(parsed.hide.keys - (keys - {parsed.key})) if parsed.hide else []
        if strangers:
            raise ModelError(f"Form {form_key}, field {_name(components[index], index)}: conditional.hide "
                             f"refers to {', '.join(strangers)}, which is no other field of the form.", form=form_key)
    return FormDefinition(form_key, tuple(fields), document)


def number_of(raw: Any) -> tuple[Decimal, int] | None:
    """A number and its significant decimal places: an int, ASCII digits with an optional point
    (no exponent, whitespace, other scripts' digits, NaN or infinity), or a float read through its
    repr by the same rule. Booleans are not numbers."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Decimal(raw), 0
    text = repr(raw) if isinstance(raw, float) else raw
    if not isinstance(text, str) or not _NUMBER_TEXT.fullmatch(text):
        return None
    value = Decimal(text)
    return (value if value else Decimal(0)), len(text.partition(".")[2].rstrip("0"))


# Parsing ------------------------------------------------------------------------------------------

def _name(component: Any, index: int) -> str:
    key = component.get("key") if isinstance(component, dict) else None
    if isinstance(key, str) and KEY.fullmatch(key):
        return key
    return f"{key!r} (component {index + 1})" if key is not None else f"#{index + 1}"


def _component(component: Any, taken: set[str | None]) -> FormField:
    if not isinstance(component, dict):
        raise _Bad("a component must be an object.")
    kind = component.get("type")
    if kind not in COMPONENT_KEYS:
        raise _Bad(f"the component type {kind!r} is not supported (supported: {', '.join(COMPONENT_KEYS)}).")
    unknown = sorted(set(component) - COMPONENT_KEYS[kind] - PRESENTATION_KEYS)
    if unknown:
        raise _Bad(f"{', '.join(unknown)} not supported on a {kind}.")
    properties = _properties(component.get("properties", {}), kind)
    hide = _conditional(component.get("conditional"))
    if kind == "text":
        return FormField("text", None, text=_string(component.get("text", ""), "text"), hide=hide,
                         properties=properties)
    key = component.get("key")
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise _Bad(f"the key must match {KEY.pattern}.")
    if key in taken:
        raise _Bad("the key is used by another field of the form.")
    if kind == "datetime" and component.get("subtype") != "date":
        raise _Bad('only datetime fields with subtype "date" are supported.')
    label = component.get("label", component.get("dateLabel"))
    if not isinstance(label, str) or not label.strip():
        raise _Bad("a label is required.")
    rules = _validate(component.get("validate", {}), kind)
    rules.update(_number_rules(component, kind, properties, rules))
    parsed = FormField(kind, key, label=label, description=_string(component.get("description", ""), "description"),
                       hide=hide, properties=properties, options=_options(component, kind, properties),
                       not_after_today=_not_after(properties), **rules)
    if "defaultValue" not in component:
        return parsed
    # A default is read like a submitted value (a cycle by nature, hence the import here).
    from engine.workflow.form_submissions import message, output_value, read_value

    default, problems = read_value(parsed, component["defaultValue"], None)
    if problems:
        raise _Bad(f"defaultValue: {message(*problems[0])}")
    return replace(parsed, default=output_value(parsed, default))


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{what} must be a string.")
    return value


def _properties(properties: Any, kind: str) -> dict[str, str]:
    if not isinstance(properties, dict) or not all(isinstance(v, str) for v in properties.values()):
        raise _Bad("properties must map names to strings.")
    unknown = sorted(set(properties) - PROPERTY_KEYS[kind])
    if unknown:
        raise _Bad(f"the properties {', '.join(unknown)} are not supported on a {kind} "
                   f"(supported: {', '.join(sorted(PROPERTY_KEYS[kind]))}).")
    return dict(properties)


def _validate(rules: Any, kind: str) -> dict[str, Any]:
    if not isinstance(rules, dict):
        raise _Bad("validate must be an object.")
    unknown = sorted(set(rules) - VALIDATE_KEYS[kind])
    if unknown:
        raise _Bad(f"validate.{', validate.'.join(unknown)} not supported on a {kind}.")
    required = rules.get("required", False)
    if not isinstance(required, bool):
        raise _Bad("validate.required must be true or false.")
    parsed: dict[str, Any] = {"required": required}
    for name, attribute in (("minLength", "min_length"), ("maxLength", "max_length")):
        if name in rules:
            length = rules[name]
            if isinstance(length, bool) or not isinstance(length, int) or not 0 <= length <= 1_000_000:
                raise _Bad(f"validate.{name} must be a whole number from 0 to 1000000.")
            parsed[attribute] = length
    if parsed.get("min_length", 0) > parsed.get("max_length", 1_000_000):
        raise _Bad("validate.minLength is above validate.maxLength.")
    if "pattern" in rules:
        parsed["pattern"] = _pattern(rules["pattern"])
    for name in ("min", "max"):
        if name in rules:
            number = number_of(rules[name])
            if number is None:
                raise _Bad(f"validate.{name} must be a number.")
            parsed["minimum" if name == "min" else "maximum"] = number[0]
    return parsed


def _pattern(pattern: Any) -> re.Pattern[str]:
    if not isinstance(pattern, str) or not pattern:
        raise _Bad("validate.pattern must be a regular expression.")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise _Bad(f"validate.pattern has more than {MAX_PATTERN_LENGTH} characters.")
    try:
        return re.compile(pattern)
    except re.error as error:
        raise _Bad(f"validate.pattern is not a valid regular expression ({error}).") from None


def _number_rules(component: dict[str, Any], kind: str, properties: dict[str, str],
                  rules: dict[str, Any]) -> dict[str, Any]:
    """decimalDigits and `format`; a format's range narrows validate.min/max (never widens them)."""
    if kind != "number":
        return {}
    digits = component.get("decimalDigits")
    if digits is not None and (isinstance(digits, bool) or not isinstance(digits, int) or not 0 <= digits <= 6):
        raise _Bad("decimalDigits must be a whole number from 0 to 6.")
    number_format = properties.get("format")
    minimum, maximum = rules.get("minimum"), rules.get("maximum")
    if number_format is not None:
        if number_format not in FORMATS:
            raise _Bad(f"the format must be one of {', '.join(FORMATS)}, not {number_format!r}.")
        places, smallest, largest = FORMATS[number_format]
        if digits not in (None, places):
            raise _Bad(f"a {number_format} field has {places} decimal digits, not {digits}.")
        minimum = smallest if minimum is None else max(minimum, smallest)
        maximum = largest if maximum is None else min(maximum, largest)
    if minimum is not None and maximum is not None and minimum > maximum:
        raise _Bad("the smallest allowed value is above the largest.")
    return {"decimal_digits": digits, "number_format": number_format, "minimum": minimum, "maximum": maximum}


def _options(component: dict[str, Any], kind: str, properties: dict[str, str]) -> tuple[Option, ...]:
    if kind not in ("select", "radio"):
        return ()
    values = component.get("values")
    if not isinstance(values, list) or not values:
        raise _Bad("values must list the choices as {label, value}.")
    if not all(isinstance(v, dict) and set(v) == {"label", "value"} and isinstance(v["label"], str)
               and isinstance(v["value"], str) and v["value"] for v in values):
        raise _Bad("each of values must be {label, value} with a non-empty string value.")
    english = _english_values(properties.get("en.values"))
    choices = tuple(Option(v["value"], v["label"], english.pop(v["value"], None)) for v in values)
    if len({c.value for c in choices}) != len(choices):
        raise _Bad("a value is listed twice in values.")
    if english:
        raise _Bad(f"en.values names {', '.join(sorted(english))}, which is not among the values.")
    return choices


def _english_values(text: str | None) -> dict[str, str]:
    """`value=Label;value2=Label 2` as a dict."""
    labels: dict[str, str] = {}
    for part in (text or "").split(";"):
        if not part.strip():
            continue
        value, sign, label = part.partition("=")
        if not sign or not value.strip() or not label.strip():
            raise _Bad("en.values must read value=Label;value2=Label 2.")
        labels[value.strip()] = label.strip()
    return labels


def _not_after(properties: dict[str, str]) -> bool:
    rule = properties.get("notAfter")
    if rule not in (None, "today"):
        raise _Bad(f'notAfter can only be "today", not {rule!r}.')
    return rule == "today"


def _conditional(conditional: Any) -> Condition | None:
    if conditional is None:
        return None
    if not isinstance(conditional, dict) or set(conditional) - {"hide"}:
        raise _Bad("conditional may only hold hide.")
    if "hide" not in conditional:
        return None
    try:
        return parse_condition(conditional["hide"])
    except ConditionError as err:
        raise _Bad(str(err)) from None
