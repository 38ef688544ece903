"""Checking a registration form (and an administrator's enterprise form): each problem is a code
with parameters per field, for the web layer to word in the reader's language; English messages
are made from the same codes for logs and the API's style of errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.platform.administration import USERNAME
from engine.platform.registration.codes import (
    APPLICANT_KINDS,
    INDUSTRY_SECTIONS,
    KIND_PREFIX,
    SIZE_CLASSES,
    credit_code_problem,
    region_code_problem,
)
from engine.workflow.errors import ValidationFailed

Problems = dict[str, list[tuple[str, dict[str, Any]]]]
MIN_PASSWORD, MAX_PASSWORD = 10, 200  # engine.platform.access's rule
EMAIL = re.compile(r"\A[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+\Z")
MOBILE = re.compile(r"\A1[3-9]\d{9}\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
CHANNELS = ("email", "sms")
ENTERPRISE_FIELDS = ("applicant_kind", "credit_code", "name", "legal_representative", "region_code",
                     "industry_section", "size_class")
ACCOUNT_FIELDS = ("username", "display_name", "channel", "email", "phone", "password", "password_again")

ENGLISH = {
    "required": "Missing data for required field.",
    "length": "Between %(min)s and %(max)s characters.",
    "control": "Control characters are not allowed.",
    "choose": "Choose one of the options.",
    "credit_code_format": "18 characters: digits and capital letters other than I, O, Z, S and V.",
    "credit_code_check": "The last character is not this code's check character (GB 32100); check the code.",
    "credit_code_kind": "This kind of applicant has a code beginning with %(prefix)s.",
    "credit_code_taken": "This unified social credit code is registered already. If it is yours, contact the "
                         "platform's operator.",
    "region_format": "Six digits (administrative division code).",
    "region_province": "No province-level division begins with these two digits.",
    "username_rule": "3 to 100 letters, digits, dots, hyphens, underscores or @.",
    "username_taken": "This username is taken.",
    "email_format": "Not a valid e-mail address.",
    "phone_format": "A mobile number of 11 digits.",
    "sms_unavailable": "Codes by text message are not available: no SMS provider is configured.",
    "email_unavailable": "Codes by e-mail are not available: no mail server is configured.",
    "password_short": "At least %(min)s characters.",
    "password_long": "At most %(max)s characters.",
    "passwords_differ": "The two passwords are not the same.",
    "commitment_required": "Registration needs the credit commitment accepted.",
    "commitment_changed": "The credit commitment was revised; read the new text and accept it again.",
}


def refuse(problems: Problems) -> ValidationFailed:
    """The ValidationFailed for `problems`: English messages and the codes with their parameters."""
    errors = {name: [ENGLISH[code] % params if params else ENGLISH[code] for code, params in found]
              for name, found in problems.items()}
    return ValidationFailed(errors, problems=problems)


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


def _bounded(problems: Problems, name: str, value: str, low: int, high: int) -> None:
    if not value:
        problems.setdefault(name, []).append(("required", {}))
    elif _CONTROL.search(value):
        problems.setdefault(name, []).append(("control", {}))
    elif not low <= len(value) <= high:
        problems.setdefault(name, []).append(("length", {"min": low, "max": high}))


def _one_of(problems: Problems, name: str, value: str, options: tuple[str, ...]) -> None:
    if value not in options:
        problems.setdefault(name, []).append(("required" if not value else "choose", {}))


def enterprise_fields(data: Mapping[str, Any], problems: Problems) -> dict[str, str]:
    """The enterprise's fields, tidied (codes in capitals); their problems added to `problems`."""
    clean = {name: _text(data, name) for name in ENTERPRISE_FIELDS}
    clean["credit_code"] = clean["credit_code"].upper()
    clean["industry_section"] = clean["industry_section"].upper()
    _one_of(problems, "applicant_kind", clean["applicant_kind"], APPLICANT_KINDS)
    code = clean["credit_code"]
    if not code:
        problems.setdefault("credit_code", []).append(("required", {}))
    elif (problem := credit_code_problem(code)) is not None:
        problems.setdefault("credit_code", []).append(
            ("credit_code_format" if problem == "format" else "credit_code_check", {}))
    elif clean["applicant_kind"] in KIND_PREFIX and not code.startswith(KIND_PREFIX[clean["applicant_kind"]]):
        problems.setdefault("credit_code", []).append(
            ("credit_code_kind", {"prefix": KIND_PREFIX[clean["applicant_kind"]]}))
    _bounded(problems, "name", clean["name"], 1, 200)
    _bounded(problems, "legal_representative", clean["legal_representative"], 1, 100)
    region = clean["region_code"]
    if not region:
        problems.setdefault("region_code", []).append(("required", {}))
    elif (problem := region_code_problem(region)) is not None:
        problems.setdefault("region_code", []).append(("region_" + problem, {}))
    _one_of(problems, "industry_section", clean["industry_section"], INDUSTRY_SECTIONS)
    _one_of(problems, "size_class", clean["size_class"], SIZE_CLASSES)
    return clean


def account_fields(data: Mapping[str, Any], problems: Problems, *, email_enabled: bool,
                   sms_available: bool) -> dict[str, str]:
    """The first user's fields (the password untrimmed); their problems added to `problems`."""
    clean = {name: _text(data, name) for name in ACCOUNT_FIELDS}
    for name in ("password", "password_again"):
        value = data.get(name)
        clean[name] = value if isinstance(value, str) else ""
    if not USERNAME.fullmatch(clean["username"]):
        problems.setdefault("username", []).append(("username_rule", {}))
    _bounded(problems, "display_name", clean["display_name"], 1, 100)
    channel = clean["channel"] or "email"
    clean["channel"] = channel
    _one_of(problems, "channel", channel, CHANNELS)
    if channel == "email":
        clean["email"] = clean["email"].lower()
        if not EMAIL.fullmatch(clean["email"]) or len(clean["email"]) > 254:
            problems.setdefault("email", []).append(("email_format", {}))
        if not email_enabled:
            problems.setdefault("channel", []).append(("email_unavailable", {}))
    elif channel == "sms":
        clean["phone"] = clean["phone"].replace(" ", "")
        if not MOBILE.fullmatch(clean["phone"]):
            problems.setdefault("phone", []).append(("phone_format", {}))
        if not sms_available:
            problems.setdefault("channel", []).append(("sms_unavailable", {}))
    password = clean["password"]
    if len(password) < MIN_PASSWORD:
        problems.setdefault("password", []).append(("password_short", {"min": MIN_PASSWORD}))
    elif len(password) > MAX_PASSWORD:
        problems.setdefault("password", []).append(("password_long", {"max": MAX_PASSWORD}))
    elif "\x00" in password:
        problems.setdefault("password", []).append(("control", {}))
    elif password != clean["password_again"]:
        problems.setdefault("password_again", []).append(("passwords_differ", {}))
    return clean


def commitment_accepted(data: Mapping[str, Any], problems: Problems, current_version: str) -> None:
    if _text(data, "accept_commitment") != "yes":
        problems.setdefault("accept_commitment", []).append(("commitment_required", {}))
    elif _text(data, "commitment_version") != current_version:
        problems.setdefault("accept_commitment", []).append(("commitment_changed", {}))
