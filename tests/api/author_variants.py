"""Variants of the shipped loan model an author might deploy, changed in the model only (for tests)."""

from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).resolve().parents[2] / "bpmn" / "loan_lifecycle.bpmn"

GUARANTEE_FORM = {
    "type": "default", "id": "guarantee_review", "schemaVersion": 16,
    "components": [
        {"type": "radio", "key": "guarantee_ok", "label": "担保是否落实", "validate": {"required": True},
         "values": [{"label": "已落实", "value": "yes"}, {"label": "未落实", "value": "no"}],
         "properties": {"en.label": "Guarantee in place", "en.values": "yes=In place;no=Not in place"}},
        {"type": "textfield", "key": "guarantor", "label": "担保机构", "validate": {"required": True, "maxLength": 50},
         "properties": {"en.label": "Guarantor"}},
    ],
}


SUPPLEMENT_FORM = {
    "type": "default", "id": "supplement", "schemaVersion": 16,
    "components": [
        {"type": "textarea", "key": "material", "label": "补充材料说明",
         "validate": {"required": True, "maxLength": 500}, "properties": {"en.label": "Material supplied"}},
    ],
}


def _props(**properties: str) -> str:
    inner = "".join(f'<spiffworkflow:property name="{k}" value="{v}"/>' for k, v in properties.items())
    return ("<bpmn:extensionElements><spiffworkflow:properties>"
            f"{inner}</spiffworkflow:properties></bpmn:extensionElements>")


def _deadline(task: str, commitment: str, expression: str, breach_against: str = "institution") -> str:
    """A boundary deadline on `task` whose branch records a breach of `commitment`."""
    return (
        f'<bpmn:boundaryEvent id="{task}_Deadline" name="时限届满" attachedToRef="{task}" cancelActivity="false">'
        + _props(timerKind="deadline", commitment=commitment, breachAgainst=breach_against)
        + f'<bpmn:outgoing>Flow_{task}_Deadline</bpmn:outgoing>'
        f'<bpmn:timerEventDefinition id="{task}_Deadline_Timer"><bpmn:timeDate xsi:type="bpmn:tFormalExpression">'
        f'{expression}</bpmn:timeDate></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
        f'<bpmn:serviceTask id="Record_{task}_Breach" name="记录超时"><bpmn:extensionElements>'
        f'<spiffworkflow:serviceTaskOperator id="record_breach" resultVariable="{task.lower()}_breach_recorded">'
        "<spiffworkflow:parameters/></spiffworkflow:serviceTaskOperator>"
        f'</bpmn:extensionElements><bpmn:incoming>Flow_{task}_Deadline</bpmn:incoming>'
        f'<bpmn:outgoing>Flow_{task}_Breach_Recorded</bpmn:outgoing></bpmn:serviceTask>'
        f'<bpmn:endEvent id="End_{task}_Breach">'
        f"<bpmn:incoming>Flow_{task}_Breach_Recorded</bpmn:incoming></bpmn:endEvent>"
        f'<bpmn:sequenceFlow id="Flow_{task}_Deadline" sourceRef="{task}_Deadline" targetRef="Record_{task}_Breach"/>'
        f'<bpmn:sequenceFlow id="Flow_{task}_Breach_Recorded" sourceRef="Record_{task}_Breach" '
        f'targetRef="End_{task}_Breach"/>'
    )


def with_guarantee_review(working_days: int = 2) -> str:
    """A 担保审查 task by the institution between acceptance and decision, with its own form and deadline."""
    return with_task_after_accept("Guarantee_Review", "担保审查", "institution", "guarantee_review", "guarantee",
                                  f"add_working_days(accepted_at, {working_days})")


def with_supplement_request(working_days: int = 5) -> str:
    """A 补充材料 task for the enterprise after acceptance; its deadline binds no institution."""
    return with_task_after_accept("Supplement", "补充材料", "enterprise", "supplement", "supplement",
                                  f"add_working_days(accepted_at, {working_days})", breach_against="none")


def with_task_after_accept(task_id: str, name: str, role: str, form: str, commitment: str, deadline: str,
                           breach_against: str = "institution") -> str:
    """The shipped model with one more user task between acceptance and decision."""
    xml = SHIPPED.read_text(encoding="utf-8")
    old_flow = '<bpmn:sequenceFlow id="Flow_Accepted" sourceRef="Accept" targetRef="Decide"/>'
    assert old_flow in xml
    task = (
        f'<bpmn:userTask id="{task_id}" name="{name}">'
        f"<bpmn:documentation>{name}。</bpmn:documentation>"
        + _props(role=role, form=form)
        + "<bpmn:incoming>Flow_Accepted</bpmn:incoming><bpmn:outgoing>Flow_Inserted</bpmn:outgoing></bpmn:userTask>"
        + _deadline(task_id, commitment, deadline, breach_against)
    )
    xml = xml.replace(old_flow,
                      f'<bpmn:sequenceFlow id="Flow_Accepted" sourceRef="Accept" targetRef="{task_id}"/>'
                      f'<bpmn:sequenceFlow id="Flow_Inserted" sourceRef="{task_id}" targetRef="Decide"/>'
                      + task)
    return xml.replace("<bpmn:incoming>Flow_Accepted</bpmn:incoming><bpmn:outgoing>Flow_Decided",
                       "<bpmn:incoming>Flow_Inserted</bpmn:incoming><bpmn:outgoing>Flow_Decided")


def with_disbursement_deadline(xml: str | None = None, working_days: int = 5) -> str:
    """The plan's 放款 commitment: a deadline on Disburse counted from the decision."""
    xml = xml or SHIPPED.read_text(encoding="utf-8")
    anchor = '<bpmn:userTask id="Settle"'
    assert anchor in xml
    return xml.replace(anchor, _deadline("Disburse", "disbursement", f"add_working_days(decided_at, {working_days})")
                       + anchor, 1)
