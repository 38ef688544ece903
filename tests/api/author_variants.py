"""Variants of the shipped loan model an author might deploy, changed in the model only (for tests)."""

from __future__ import annotations

import re
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


# What the authors' own commitments are called (the platform names accept, decision, disbursement, …).
COMMITMENT_NAMES = {"guarantee": ("担保审查", "Guarantee review")}


def _deadline(task: str, commitment: str, expression: str, breach_against: str = "institution") -> str:
    """A boundary deadline on `task` whose branch records a breach of `commitment`."""
    names = COMMITMENT_NAMES.get(commitment)
    named = {"commitmentName": names[0], "en.commitmentName": names[1]} if names else {}
    return (
        f'<bpmn:boundaryEvent id="{task}_Deadline" name="时限届满" attachedToRef="{task}" cancelActivity="false">'
        + _props(timerKind="deadline", commitment=commitment, breachAgainst=breach_against, **named)
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
    return with_task_after_accept("Early_Material", "补充材料", "enterprise", "supplement", "supplement",
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
    decide_incoming = "<bpmn:incoming>Flow_Accepted</bpmn:incoming><bpmn:incoming>Flow_Decision_Resumed"
    assert xml.count(decide_incoming) == 1
    return xml.replace(decide_incoming,
                       "<bpmn:incoming>Flow_Inserted</bpmn:incoming><bpmn:incoming>Flow_Decision_Resumed")


# What the shipped model holds for its disbursement deadline (elements, flows, lane entries, shapes).
_SHIPPED_DISBURSEMENT_DEADLINE = ("Disburse_Deadline", "Record_Disbursement_Breach", "End_Disbursement_Breach",
                                  "Flow_Disburse_Deadline", "Flow_Disbursement_Breach_Recorded")


def without_disbursement_deadline(xml: str | None = None) -> str:
    """The shipped model as it was before it had a 放款 deadline: nothing waits on Disburse."""
    xml = xml or SHIPPED.read_text(encoding="utf-8")
    for element in _SHIPPED_DISBURSEMENT_DEADLINE:
        patterns = (
            rf'\s*<bpmn:(boundaryEvent|serviceTask|endEvent) id="{element}".*?</bpmn:\1>',
            rf'\s*<bpmn:sequenceFlow id="{element}"[^>]*/>',
            rf"<bpmn:flowNodeRef>{element}</bpmn:flowNodeRef>",
            rf'\s*<bpmndi:BPMN(Shape|Edge) id="{element}_di".*?</bpmndi:BPMN\1>',
        )
        for pattern in patterns:
            xml = re.sub(pattern, "", xml, flags=re.S)
    for element in _SHIPPED_DISBURSEMENT_DEADLINE:
        assert element not in xml, element
    return xml


def with_disbursement_deadline(xml: str | None = None, working_days: int = 5) -> str:
    """The plan's 放款 commitment added by an author: a deadline on Disburse counted from the decision
    (on a model without the shipped one)."""
    xml = without_disbursement_deadline(xml)
    anchor = '<bpmn:userTask id="Settle"'
    assert anchor in xml
    return xml.replace(anchor, _deadline("Disburse", "disbursement", f"add_working_days(decided_at, {working_days})")
                       + anchor, 1)


def _start_process_task(task_id: str, incoming: str, outgoing: str, process: str) -> str:
    """A service task calling `start_process` for `process` (a key; quoted here as the expression)."""
    return (
        f'<bpmn:serviceTask id="{task_id}" name="发起满意度回访"><bpmn:extensionElements>'
        f'<spiffworkflow:serviceTaskOperator id="start_process" resultVariable="{task_id.lower()}_result">'
        f"<spiffworkflow:parameters><spiffworkflow:parameter id=\"process\" type=\"str\" value=\"'{process}'\"/>"
        "</spiffworkflow:parameters></spiffworkflow:serviceTaskOperator></bpmn:extensionElements>"
        f"<bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing></bpmn:serviceTask>"
    )


def with_satisfaction_follow_up(xml: str | None = None, process: str = "satisfaction_survey") -> str:
    """The loan model starting the satisfaction follow-up (`start_process`) after a disbursement and
    after a rejection, as the lead's model does. If the model already calls `start_process` for the
    survey, only the process it names is changed (to `process`)."""
    xml = xml or SHIPPED.read_text(encoding="utf-8")
    if 'serviceTaskOperator id="start_process"' in xml:
        return xml.replace("value=\"'satisfaction_survey'\"", f"value=\"'{process}'\"")
    edits = (
        ('<bpmn:sequenceFlow id="Flow_Disbursed" sourceRef="Disburse" targetRef="Settle"/>',
         '<bpmn:sequenceFlow id="Flow_Disbursed" sourceRef="Disburse" targetRef="Invite_After_Disbursement"/>'
         '<bpmn:sequenceFlow id="Flow_Invited_Disbursed" sourceRef="Invite_After_Disbursement" targetRef="Settle"/>'
         + _start_process_task("Invite_After_Disbursement", "Flow_Disbursed", "Flow_Invited_Disbursed", process)),
        ("<bpmn:incoming>Flow_Disbursed</bpmn:incoming><bpmn:outgoing>Flow_Settled</bpmn:outgoing>",
         "<bpmn:incoming>Flow_Invited_Disbursed</bpmn:incoming><bpmn:outgoing>Flow_Settled</bpmn:outgoing>"),
        ('sourceRef="Decision_Gateway" targetRef="End_Rejected">',
         'sourceRef="Decision_Gateway" targetRef="Invite_After_Rejection">'),
        ('<bpmn:endEvent id="End_Rejected" name="已拒绝"><bpmn:incoming>Flow_Rejected</bpmn:incoming></bpmn:endEvent>',
         '<bpmn:endEvent id="End_Rejected" name="已拒绝"><bpmn:incoming>Flow_Invited_Rejected</bpmn:incoming>'
         "</bpmn:endEvent>"
         '<bpmn:sequenceFlow id="Flow_Invited_Rejected" sourceRef="Invite_After_Rejection" targetRef="End_Rejected"/>'
         + _start_process_task("Invite_After_Rejection", "Flow_Rejected", "Flow_Invited_Rejected", process)),
    )
    for old, new in edits:
        assert xml.count(old) == 1, old
        xml = xml.replace(old, new)
    return xml
