"""The API's documented shapes. Money is a string of yuan with two places, rates are percentages."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from engine.privacy import mask_account

MONEY = validate.Regexp(r"^\d{1,12}(\.\d{1,2})?$", error="A decimal amount in yuan as a string, e.g. \"500000.00\".")
RATE = validate.Regexp(r"^\d{1,2}(\.\d{1,4})?$", error="A percentage as a string, e.g. \"3.85\".")
STEPS = ("Accept", "Decide", "Disburse", "Settle")
MAX_ID = 2**31 - 1
ID = validate.Range(min=1, max=MAX_ID)
STATUSES = ("submitted", "accepted", "approved", "rejected", "disbursed", "settled", "withdrawn")


class AuthorizationIn(Schema):
    scope = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "What the institution may query, e.g. 企业征信报告"})
    granted_by = fields.String(required=True, validate=validate.Length(min=1, max=100))
    granted_at = fields.AwareDateTime(required=True)
    expires_at = fields.AwareDateTime(required=True)


class SubmitIn(Schema):
    institution_id = fields.Integer(required=True, strict=True, validate=ID)
    product_id = fields.Integer(required=True, strict=True, validate=ID)
    amount = fields.String(required=True, validate=MONEY)
    term_months = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=360))
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=500))
    authorization = fields.Nested(AuthorizationIn, required=True)


class AcceptIn(Schema):
    note = fields.String(validate=validate.Length(max=500))


class DecisionIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject")))
    amount = fields.String(validate=MONEY)
    annual_rate = fields.String(validate=RATE)
    term_months = fields.Integer(strict=True, validate=validate.Range(min=1, max=360))
    conditions = fields.String(validate=validate.Length(max=1000))
    reason = fields.String(validate=validate.Length(max=1000))


class DisbursementIn(Schema):
    contract_number = fields.String(required=True, validate=validate.Length(min=1, max=64))
    amount = fields.String(required=True, validate=MONEY)
    disbursed_on = fields.Date(required=True)
    account = fields.String(validate=validate.Length(max=64))


class SettlementIn(Schema):
    settled_on = fields.Date(required=True)


class WithdrawIn(Schema):
    reason = fields.String(validate=validate.Length(max=500))


class ListQuery(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    step = fields.String(validate=validate.OneOf(STEPS))
    due_before = fields.AwareDateTime()
    updated_since = fields.AwareDateTime()
    cursor = fields.Integer(validate=ID)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class OpenTaskOut(Schema):
    step = fields.String(attribute="bpmn_id")
    name = fields.String()
    due_at = fields.DateTime(allow_none=True)
    due_provisional = fields.Boolean()
    assignee = fields.String(allow_none=True)


class ApplicationOut(Schema):
    reference = fields.String()
    status = fields.String()
    enterprise_id = fields.Integer()
    institution_id = fields.Integer()
    product_id = fields.Integer()
    amount = fields.Decimal(as_string=True, places=2)
    term_months = fields.Integer()
    purpose = fields.String()
    submitted_at = fields.DateTime()
    accept_due = fields.DateTime(allow_none=True)
    accept_due_provisional = fields.Boolean()
    accepted_at = fields.DateTime(allow_none=True)
    decision_due = fields.DateTime(allow_none=True)
    decision_due_provisional = fields.Boolean()
    decided_at = fields.DateTime(allow_none=True)
    approved_amount = fields.Decimal(as_string=True, places=2, allow_none=True)
    annual_rate = fields.Decimal(as_string=True, places=4, allow_none=True)
    approved_term_months = fields.Integer(allow_none=True)
    approval_conditions = fields.String(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    contract_number = fields.String(allow_none=True)
    disbursed_amount = fields.Decimal(as_string=True, places=2, allow_none=True)
    disbursed_on = fields.Date(allow_none=True)
    disbursement_account = fields.Function(lambda app: mask_account(app.disbursement_account), allow_none=True)
    settled_on = fields.Date(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()
    open_tasks = fields.List(fields.Nested(OpenTaskOut), dump_default=list)


class PageOut(Schema):
    items = fields.List(fields.Nested(ApplicationOut))
    next_cursor = fields.Integer(allow_none=True)


class BreachOut(Schema):
    id = fields.Integer()
    application = fields.String()
    institution_id = fields.Integer()
    kind = fields.String()
    due_at = fields.DateTime()
    breached_at = fields.DateTime()
    provisional = fields.Boolean()
    resolved_at = fields.DateTime(allow_none=True)
    resolution = fields.String(allow_none=True)
    late_seconds = fields.Integer(allow_none=True)
    late_working_days = fields.Integer(allow_none=True)


class BreachQuery(Schema):
    institution_id = fields.Integer(validate=ID)
    kind = fields.String(validate=validate.OneOf(("accept", "decision")))
    open = fields.Boolean(load_default=False)
    cursor = fields.Integer(validate=ID)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class BreachPageOut(Schema):
    items = fields.List(fields.Nested(BreachOut))
    next_cursor = fields.Integer(allow_none=True)


class ScorecardOut(Schema):
    institution_id = fields.Integer()
    applications = fields.Integer()
    accepted = fields.Integer()
    accepted_on_time = fields.Integer()
    decided = fields.Integer()
    decided_on_time = fields.Integer()
    approved = fields.Integer()
    open_breaches = fields.Integer()
    on_time_acceptance_rate = fields.Float(allow_none=True)
    on_time_decision_rate = fields.Float(allow_none=True)
    approval_rate = fields.Float(allow_none=True)


class TokenIn(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=100))
    password = fields.String(required=True, validate=validate.Length(min=1, max=200), load_only=True)


class TokenOut(Schema):
    token = fields.String()
    expires_at = fields.DateTime()


class DefinitionOut(Schema):
    key = fields.String()
    version = fields.Integer()
    name = fields.String()
    sha256 = fields.String()
    deployed_at = fields.DateTime()
    deployed_by = fields.String()


class DeployIn(Schema):
    bpmn_xml = fields.String(required=True, validate=validate.Length(min=1, max=2_000_000))


class InstanceQuery(Schema):
    status = fields.String(validate=validate.OneOf(("running", "completed")))
    cursor = fields.Integer(validate=ID)
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class InstanceSummaryOut(Schema):
    id = fields.Integer()
    business_key = fields.String()
    status = fields.String()
    end_event = fields.String(allow_none=True)
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class InstanceOut(InstanceSummaryOut):
    key = fields.String()
    definition_version = fields.Integer()


class InstancePageOut(Schema):
    items = fields.List(fields.Nested(InstanceSummaryOut))
    next_cursor = fields.Integer(allow_none=True)


class ErrorOut(Schema):
    code = fields.String()
    message = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))


def drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
