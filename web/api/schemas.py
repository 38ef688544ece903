"""The API's documented shapes. Money is a string of yuan with two places, rates are percentages."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

from engine.loans.commands import (
    INSTANT_RULE,
    LOAN_TYPES,
    MONEY_PATTERN,
    RATE_PATTERN,
    TERM_CLASSES,
    Instant,
    multiline,
    single_line,
)
from engine.platform.privacy import mask_account


class WholeMatch(validate.Regexp):
    """A pattern the whole value must match: marshmallow's Regexp lets '$' match before a final
    newline. The pattern itself is written for the OpenAPI document (ECMAScript, ASCII classes)."""

    def __call__(self, value: str) -> str:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


MONEY = WholeMatch(MONEY_PATTERN, re.ASCII, error="A decimal amount in yuan as a string, e.g. \"500000.00\".")
RATE = WholeMatch(RATE_PATTERN, re.ASCII, error="A percentage as a string, e.g. \"3.85\".")
STEPS = ("Accept", "Decide", "Disburse", "Settle")
MAX_ID = 2**31 - 1
ID = validate.Range(min=1, max=MAX_ID)
STATUSES = ("submitted", "accepted", "approved", "rejected", "disbursed", "settled", "withdrawn")


def _money_out(**kwargs: Any) -> fields.Decimal:
    """Money as the API sends it: a string of yuan with two places."""
    return fields.Decimal(as_string=True, places=2, metadata={"type": "string", "pattern": MONEY_PATTERN}, **kwargs)


def _text(max_length: int, *, lines: bool = False, required: bool = False, **metadata: Any) -> fields.String:
    """Text: single-line refuses every control character, multi-line keeps tab and line breaks."""
    return fields.String(required=required, metadata=metadata, validate=[
        validate.Length(min=1 if required else 0, max=max_length), multiline if lines else single_line])


def _instant(**kwargs: Any) -> Instant:
    return Instant(metadata={"description": INSTANT_RULE}, **kwargs)


class AuthorizationIn(Schema):
    scope = _text(200, required=True, description="What the institution may query, e.g. 企业征信报告")
    granted_by = _text(100, required=True)
    granted_at = _instant(required=True)
    expires_at = _instant(required=True)


class SubmitIn(Schema):
    institution_id = fields.Integer(required=True, strict=True, validate=ID)
    product_id = fields.Integer(required=True, strict=True, validate=ID)
    amount = fields.String(required=True, validate=MONEY)
    term_months = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=360))
    purpose = _text(500, lines=True, required=True)
    authorization = fields.Nested(AuthorizationIn, required=True)


class AcceptIn(Schema):
    note = _text(500, lines=True)


class LoanFeedbackIn(Schema):
    """Optional facts about the loan for the platform's reports (信用贷, 首贷, 中长期)."""

    loan_type = fields.String(validate=validate.OneOf(LOAN_TYPES), metadata={
        "description": "Optional. credit (信用贷款), guaranteed (保证贷款), mortgage (抵押贷款) or pledge (质押贷款)"})
    first_loan = fields.Boolean(metadata={
        "description": "Optional. Whether this is the enterprise's first loan from any bank (首贷)"})
    term_class = fields.String(validate=validate.OneOf(TERM_CLASSES), metadata={
        "description": "Optional. short (one year or less) or medium_long (中长期, over one year); "
                       "when left out it follows the approved term (over 12 months: medium_long)"})


class DecisionIn(LoanFeedbackIn):
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject")))
    amount = fields.String(validate=MONEY)
    annual_rate = fields.String(validate=RATE)
    term_months = fields.Integer(strict=True, validate=validate.Range(min=1, max=360))
    conditions = _text(1000, lines=True)
    reason = _text(1000, lines=True)


class DisbursementIn(LoanFeedbackIn):
    contract_number = _text(64, required=True)
    amount = fields.String(required=True, validate=MONEY)
    disbursed_on = fields.Date(required=True)
    account = _text(64)


class SettlementIn(Schema):
    settled_on = fields.Date(required=True)


class WithdrawIn(Schema):
    reason = _text(500, lines=True)


class ListQuery(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    step = fields.String(validate=validate.OneOf(STEPS))
    due_before = _instant()
    updated_since = _instant()
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
    amount = _money_out()
    term_months = fields.Integer()
    purpose = fields.String()
    submitted_at = fields.DateTime()
    accept_due = fields.DateTime(allow_none=True)
    accept_due_provisional = fields.Boolean()
    accepted_at = fields.DateTime(allow_none=True)
    decision_due = fields.DateTime(allow_none=True)
    decision_due_provisional = fields.Boolean()
    decided_at = fields.DateTime(allow_none=True)
    approved_amount = _money_out(allow_none=True)
    annual_rate = fields.Decimal(as_string=True, places=4, allow_none=True,
                                 metadata={"type": "string", "pattern": RATE_PATTERN})
    approved_term_months = fields.Integer(allow_none=True)
    approval_conditions = fields.String(allow_none=True)
    rejection_reason = fields.String(allow_none=True)
    contract_number = fields.String(allow_none=True)
    loan_type = fields.String(allow_none=True, metadata={"enum": list(LOAN_TYPES)})
    first_loan = fields.Boolean(allow_none=True)
    term_class = fields.String(allow_none=True, metadata={"enum": list(TERM_CLASSES)})
    disbursed_amount = _money_out(allow_none=True)
    disbursed_on = fields.Date(allow_none=True)
    disbursement_account = fields.Function(lambda app: mask_account(app.disbursement_account), allow_none=True,
                                           metadata={"type": "string", "description": "Masked: the last 4 digits"})
    settled_on = fields.Date(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()
    open_tasks = fields.List(fields.Nested(OpenTaskOut), dump_default=list, metadata={
        "description": "Open tasks on this application that the caller's side acts on (an institution: its "
                       "own; an enterprise: its own; supervisors: all)"})


class PageOut(Schema):
    items = fields.List(fields.Nested(ApplicationOut))
    next_cursor = fields.Integer(allow_none=True)


class ContactOut(Schema):
    """The applicant's contact data in full: the handling institution, under the enterprise's authorization."""

    name = fields.String()
    credit_code = fields.String()
    legal_representative = fields.String(allow_none=True)
    representative_id_number = fields.String(allow_none=True)
    contact_phone = fields.String(allow_none=True)


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
    username = fields.String(required=True, validate=[validate.Length(min=1, max=100), single_line])
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
    reason = fields.String(allow_none=True, metadata={"description": "Why the author deployed it"})


class DeployIn(Schema):
    bpmn_xml = fields.String(required=True, validate=validate.Length(min=1, max=2_000_000))
    forms = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=64)), values=fields.Dict(),
                        load_default=dict, metadata={
                            "description": "Forms its user tasks name, by key (@bpmn-io/form-js JSON); a form "
                                           "left out is carried over from the latest version"})
    decisions = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=100)),
                            values=fields.String(validate=validate.Length(min=1, max=1_000_000)),
                            validate=validate.Length(max=50), load_default=dict, metadata={
                                "description": "Decision tables (DMN XML, one decision each) its business rule "
                                               "tasks call, by decision id; a table left out is carried over from "
                                               "the latest version"})
    reason = fields.String(validate=[validate.Length(max=1000), single_line], load_default=None)


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
    code = fields.String(required=True)
    message = fields.String(required=True)
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True,
                         metadata={"description": "Messages by field ('authorization.granted_at'), or '_schema'"})
    request_id = fields.String(required=True, metadata={
        "description": "This request's id (also the X-Request-Id header); quote it when reporting a problem"})
    status = fields.String(metadata={"description": "A 409's current status of the application"})
    reason = fields.String(metadata={"description": "A refused disclosure (403 case_record_closed, reveal_refused): "
                                                    "revoked | expired | missing | withdrawn | settled | rejected"})
    readable_until = fields.DateTime(metadata={
        "description": "case_record_closed: the end of the window in which the closed case's record was readable"})


def drop_none(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}
