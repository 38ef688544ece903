"""Input of each loan step, validated with marshmallow before anything changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from engine.errors import ValidationFailed

MAX_AMOUNT = Decimal("100000000000.00")  # 1000 亿元: far above any SME loan, below column limits


def _money(**kwargs: Any) -> fields.Decimal:
    return fields.Decimal(
        places=None, allow_nan=False,
        validate=validate.Range(min=Decimal("0.01"), max=MAX_AMOUNT,
                                error="Must be between 0.01 and 100000000000.00 yuan."),
        **kwargs,
    )


def _two_places(value: Decimal) -> None:
    if value != value.quantize(Decimal("0.01")):
        raise ValidationError("At most two decimal places (yuan and fen).")


NUL_REFUSED = "NUL characters are not allowed."


def no_nul(value: str) -> None:
    """Refuse NUL characters (PostgreSQL cannot store them; no text needs them)."""
    if "\x00" in value:
        raise ValidationError(NUL_REFUSED)


def _text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=max_length), no_nul], **kwargs)


class CreditAuthorizationSchema(Schema):
    scope = _text(200, required=True)
    granted_by = _text(100, required=True)
    granted_at = fields.AwareDateTime(required=True)
    expires_at = fields.AwareDateTime(required=True)

    @validates_schema
    def _expiry_after_grant(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("granted_at") and data.get("expires_at") and data["expires_at"] <= data["granted_at"]:
            raise ValidationError("The authorization must expire after it is granted.", "expires_at")


class SubmitSchema(Schema):
    institution_id = fields.Integer(required=True, strict=True)
    product_id = fields.Integer(required=True, strict=True)
    amount = _money(required=True)
    term_months = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=360))
    purpose = _text(500, required=True)
    authorization = fields.Nested(CreditAuthorizationSchema, required=True)

    @validates_schema
    def _amount_places(self, data: dict[str, Any], **_: Any) -> None:
        if "amount" in data:
            _check_places(data["amount"], "amount")


class AcceptSchema(Schema):
    note = fields.String(validate=validate.Length(max=500), load_default=None)


class ApproveSchema(Schema):
    amount = _money(required=True)
    annual_rate = fields.Decimal(
        required=True, allow_nan=False,
        validate=validate.Range(min=Decimal("0.0001"), max=Decimal("36"), error="Must be between 0.0001 and 36 (%)."),
    )
    term_months = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=360))
    conditions = fields.String(validate=validate.Length(max=1000), load_default=None)

    @validates_schema
    def _places(self, data: dict[str, Any], **_: Any) -> None:
        if "amount" in data:
            _check_places(data["amount"], "amount")
        rate = data.get("annual_rate")
        if rate is not None and rate != rate.quantize(Decimal("0.0001")):
            raise ValidationError("At most four decimal places.", "annual_rate")


class RejectSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=1000))

    @validates_schema
    def _reason_not_blank(self, data: dict[str, Any], **_: Any) -> None:
        if "reason" in data and not data["reason"].strip():
            raise ValidationError("A reason is required.", "reason")


class DisburseSchema(Schema):
    contract_number = _text(64, required=True)
    amount = _money(required=True)
    disbursed_on = fields.Date(required=True)
    account = fields.String(validate=validate.Length(max=64), load_default=None)

    @validates_schema
    def _places(self, data: dict[str, Any], **_: Any) -> None:
        if "amount" in data:
            _check_places(data["amount"], "amount")


class SettleSchema(Schema):
    settled_on = fields.Date(required=True)


class WithdrawSchema(Schema):
    reason = fields.String(validate=validate.Length(max=500), load_default=None)


def _check_places(value: Decimal, field: str) -> None:
    try:
        _two_places(value)
    except ValidationError as err:
        raise ValidationError(err.messages, field) from None


def load(schema: type[Schema], data: dict[str, Any]) -> dict[str, Any]:
    """Validate `data`; raise ValidationFailed mapping each field to its messages."""
    try:
        return schema().load(data)
    except ValidationError as err:
        messages = err.messages if isinstance(err.messages, dict) else {"_schema": err.messages}
        raise ValidationFailed(_flatten(messages)) from None


def _flatten(messages: dict[str, Any], prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    for key, value in messages.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = [str(v) for v in (value if isinstance(value, list) else [value])]
    return flat
