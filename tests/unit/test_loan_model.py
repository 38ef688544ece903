"""The shipped loan model is valid BPMN, fully laid out, and keeps its rules in the model."""

from __future__ import annotations

from lxml import etree

from engine.workflow.adapter import parse_model
from engine.workflow.definitions import BPMN_DIR, shipped_decisions

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
}
XML = (BPMN_DIR / "loan_lifecycle.bpmn").read_text(encoding="utf-8")
TREE = etree.fromstring(XML.encode())
PROCESS = TREE.find("bpmn:process", NS)
FLOW_NODES = [e for e in PROCESS if etree.QName(e).localname not in ("laneSet", "sequenceFlow", "documentation",
                                                                           "extensionElements")]
FLOWS = PROCESS.findall("bpmn:sequenceFlow", NS)


def _bounds(element_id: str) -> tuple[float, float, float, float]:
    shape = TREE.find(f".//bpmndi:BPMNShape[@bpmnElement='{element_id}']/dc:Bounds", NS)
    assert shape is not None, f"{element_id} has no shape"
    return tuple(float(shape.get(k)) for k in ("x", "y", "width", "height"))


def test_the_model_validates_and_parses():
    model = parse_model(XML, decisions=shipped_decisions(XML))
    assert (model.process_id, model.name) == ("loan_lifecycle", "贷款全流程")


def test_every_node_and_flow_is_drawn():
    for node in FLOW_NODES:
        _bounds(node.get("id"))
    drawn_edges = {e.get("bpmnElement") for e in TREE.iterfind(".//bpmndi:BPMNEdge", NS)}
    assert {f.get("id") for f in FLOWS} == drawn_edges


def test_every_node_is_in_exactly_one_lane():
    refs = [r.text for r in PROCESS.iterfind("bpmn:laneSet/bpmn:lane/bpmn:flowNodeRef", NS)]
    assert sorted(refs) == sorted(n.get("id") for n in FLOW_NODES)


def test_boundary_events_sit_on_the_border_of_their_task():
    for event in PROCESS.iterfind("bpmn:boundaryEvent", NS):
        ex, ey, ew, eh = _bounds(event.get("id"))
        tx, ty, tw, th = _bounds(event.get("attachedToRef"))
        cx, cy = ex + ew / 2, ey + eh / 2
        on_vertical = tx <= cx <= tx + tw and cy in (ty, ty + th)
        on_horizontal = ty <= cy <= ty + th and cx in (tx, tx + tw)
        assert on_vertical or on_horizontal, event.get("id")


def test_deadline_rules_are_a_decision_table_of_the_model():
    spiff = "{http://spiffworkflow.org/bpmn/schema/1.0/core}"
    rules = PROCESS.find("bpmn:businessRuleTask[@id='Set_SLA_Rules']", NS)
    assert rules.find(f".//{spiff}calledDecisionId").text == "loan_time_limits"
    table = etree.fromstring(shipped_decisions(XML)["loan_time_limits"].encode())
    dmn = {"dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/"}
    outputs = [o.get("name") for o in table.iterfind(".//dmn:output", dmn)]
    default = [e.text for e in table.iterfind(".//dmn:rule[last()]/dmn:outputEntry/dmn:text", dmn)]
    assert dict(zip(outputs, default, strict=True)) == {
        "accept_working_days": "3", "decision_working_days": "10", "disbursement_working_days": "5",
        "supplement_working_days": "5", "pause_decision_clock_for_material": "True"}
    expressions = {e.getparent().getparent().get("id"): e.text for e in PROCESS.iterfind(".//bpmn:timeDate", NS)}
    assert expressions["Accept_Deadline"] == "add_working_days(submitted_at, accept_working_days)"
    assert expressions["Decide_Deadline"] == (
        "add_working_days(accepted_at, decision_working_days + decision_paused_working_days)")
    assert expressions["Disburse_Deadline"] == "add_working_days(decided_at, disbursement_working_days)"
