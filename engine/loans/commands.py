"""Input of each loan step, validated with marshmallow before anything changes."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.workflow.errors import ValidationFailed

MAX_AMOUNT = Decimal("100000000000.00")  # 1000 亿元: far above any SME loan, below column limits
# What the API documents (ECMAScript patterns); the fields below accept exactly these strings.
MONEY_PATTERN = r"^[0-9]{1,15}(\.[0-9]{1,2})?$"
RATE_PATTERN = r"^[0-9]{1,2}(\.[0-9]{1,4})?$"
NOT_A_NUMBER = "Not a valid number."
# Years a business time may fall in: wide enough for any loan, narrow enough that converting
# between offsets never leaves Python's datetime range (year 1 and 9999 overflow).
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200
INSTANT_RULE = f"An ISO-8601 time with an offset, between the years {EARLIEST_YEAR} and {LATEST_YEAR}."


class _AsciiDecimal(fields.Decimal):
    """A decimal given as a Decimal or as ASCII digits with a point: no other scripts' digits
    (Python's Decimal reads '１００' and '١٠٠'), no whitespace, no exponent, no NaN. A leading minus
    sign is read so that the range check can say why it is refused."""

    def __init__(self, integer_digits: int, **kwargs: Any) -> None:
        # Up to 30 decimal places are read, so that the places check (not this one) names the problem.
        self.shape = re.compile(rf"-?[0-9]{{1,{integer_digits}}}(\.[0-9]{{1,30}})?", re.ASCII)
        super().__init__(places=None, allow_nan=False, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Decimal:
        if isinstance(value, str):
            if not self.shape.fullmatch(value):
                raise ValidationError(NOT_A_NUMBER)
        elif isinstance(value, bool) or not isinstance(value, (Decimal, int)):
            raise ValidationError(NOT_A_NUMBER)  # floats are binary approximations of money
        return super()._deserialize(value, attr, data, **kwargs)


def _money(**kwargs: Any) -> fields.Decimal:
    return _AsciiDecimal(
        15,
        validate=validate.Range(min=Decimal("0.01"), max=MAX_AMOUNT,
                                error="Must be between 0.01 and 100000000000.00 yuan."),
        **kwargs,
    )


def _rate(**kwargs: Any) -> fields.Decimal:
    return _AsciiDecimal(
        2,
        validate=validate.Range(min=Decimal("0.0001"), max=Decimal("36"), error="Must be between 0.0001 and 36 (%)."),
        **kwargs,
    )


class Instant(fields.AwareDateTime):
    """An ISO-8601 time with an offset (a naive one is refused) between EARLIEST_YEAR and LATEST_YEAR."""

    default_error_messages = {"invalid": INSTANT_RULE, "invalid_awareness": INSTANT_RULE}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if not EARLIEST_YEAR <= moment.year <= LATEST_YEAR:
            raise ValidationError(INSTANT_RULE)
        return moment


def _two_places(value: Decimal) -> None:
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError("At most two decimal places (yuan and fen).")


NUL_REFUSED = "NUL characters are not allowed."
CONTROL_REFUSED = "Control characters are not allowed."
# Unicode's control characters (C0, DEL, C1) but NUL, which has its own message.
_CONTROL = re.compile("[\x01-\x1f\x7f-\x9f]")
# Multi-line text keeps tab, line feed and carriage return (browsers send CR LF from a textarea).
_CONTROL_IN_MULTILINE = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def no_nul(value: str) -> None:
    """Refuse NUL characters (PostgreSQL cannot store them; no text needs them)."""
    if "\x00" in value:
        raise ValidationError(NUL_REFUSED)


def single_line(value: str) -> None:
    """Refuse NUL and every other control character, line breaks and tabs included."""
    no_nul(value)
    if _CONTROL.search(value):
        raise ValidationError(CONTROL_REFUSED)


def multiline(value: str) -> None:
    """Refuse NUL and control characters other than tab and line breaks."""
    no_nul(value)
    if _CONTROL_IN_MULTILINE.search(value):
        raise ValidationError(CONTROL_REFUSED)


def _text(max_length: int, *, lines: bool = False, **kwargs: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=max_length), multiline if lines else single_line],
                         **kwargs)


def _optional_text(max_length: int, *, lines: bool = True) -> fields.String:
    return fields.String(validate=[validate.Length(max=max_length), multiline if lines else single_line],
                         load_default=None)


class CreditAuthorizationSchema(Schema):
    scope = _text(200, required=True)
    granted_by = _text(100, required=True)
    granted_at = Instant(required=True)
    expires_at = Instant(required=True)
    # The risk notice (风险提示) the applicant acknowledged on the apply page (authorizations.RISK_NOTICE_VERSION).
    risk_notice_version = fields.String(validate=validate.Length(max=20), load_default=None)

    @validates_schema
    def _expiry_after_grant(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("granted_at") and data.get("expires_at") and data["expires_at"] <= data["granted_at"]:
            raise ValidationError("The authorization must expire after it is granted.", "expires_at")


class SubmitSchema(Schema):
    institution_id = fields.Integer(required=True, strict=True)
    product_id = fields.Integer(required=True, strict=True)
    amount = _money(required=True)
    term_months = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=360))
    purpose = _text(500, lines=True, required=True)
    authorization = fields.Nested(CreditAuthorizationSchema, required=True)

    @validates_schema
    def _amount_places(self, data: dict[str, Any], **_: Any) -> None:
        if "amount" in data:
            _check_places(data["amount"], "amount")


class AcceptSchema(Schema):
    note = _optional_text(500)


# What a bank may report about the loan at the decision and the disbursement (optional, for the
# plan's counts: 信用贷, 首贷, 中长期); the forms' choices (bpmn/forms/loan_decide, loan_disburse).
LOAN_TYPES = ("credit", "guaranteed", "mortgage", "pledge")
TERM_CLASSES = ("short", "medium_long")


class _LoanFeedback(Schema):
    loan_type = fields.String(validate=validate.OneOf(LOAN_TYPES), load_default=None)
    first_loan = fields.Boolean(load_default=None)
    term_class = fields.String(validate=validate.OneOf(TERM_CLASSES), load_default=None)


class ApproveSchema(_LoanFeedback):
    amount = _money(required=True)
    annual_rate = _rate(required=True)
    term_months = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=360))
    conditions = _optional_text(1000)

    @validates_schema
    def _places(self, data: dict[str, Any], **_: Any) -> None:
        if "amount" in data:
            _check_places(data["amount"], "amount")
        rate = data.get("annual_rate")
        if rate is not None and rate != rate.quantize(Decimal("0.0001")):
            raise ValidationError("At most four decimal places.", "annual_rate")


class RejectSchema(Schema):
    reason = _text(1000, lines=True, required=True)

    @validates_schema
    def _reason_not_blank(self, data: dict[str, Any], **_: Any) -> None:
        if "reason" in data and not data["reason"].strip():
            raise ValidationError("A reason is required.", "reason")


class DisburseSchema(_LoanFeedback):
    contract_number = _text(64, required=True)
    amount = _money(required=True)
    disbursed_on = fields.Date(required=True)
    account = _optional_text(64, lines=False)

    @validates_schema
    def _places(self, data: dict[str, Any], **_: Any) -> None:
        if "amount" in data:
            _check_places(data["amount"], "amount")


class SettleSchema(Schema):
    settled_on = fields.Date(required=True)


class WithdrawSchema(Schema):
    reason = _optional_text(500)


def _check_places(value: Decimal, field: str) -> None:
    try:
        _two_places(value)
    except ValidationError as err:
        raise ValidationError(err.messages, field) from None


def load(schema: type[Schema], data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data`; raise ValidationFailed mapping each field to its messages."""
    try:
        return _instance(schema).load(data)
    except ValidationError as err:
        messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
        raise ValidationFailed(_flatten(messages)) from None


@functools.cache
def _instance(schema: type[Schema]) -> Schema:
    """One instance per schema: building one copies every declared field, and loading keeps no state."""
    return schema()


def _flatten(messages: dict[str, Any], prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = [str(v) for v in (value if isinstance(value, list) else [value])]
    return flat
