"""Variants of the shipped loan model whose accept-deadline branch runs hostile code (for tests).

The code is dynamic (built from data at run time), so deploy-time checks cannot see it: what
stops it is the sandbox at run time, and the sweep's isolation of each case.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

SHIPPED = Path(__file__).resolve().parents[2] / "bpmn" / "loan_lifecycle.bpmn"

POISONS = {
    # an endless C-level loop: one call that a tracer cannot interrupt
    "c_level_loop": "n = int('1' + '0' * 18)\ntotal = sum(range(n))",
    # a 4 GB allocation in one operation
    "huge_allocation": "size = int('4' + '0' * 9)\nblob = 'a' * size",
    "huge_power": "exponent = int('1' + '0' * 8)\nbig = pow(10, exponent)",
    "huge_format_width": "width = int('3' + '0' * 9)\ntext = f'{1:>{width}}'",
    "plain_error": "ratio = 1 / int('0')",
    # a hole in the sandbox that let the script raise what stops a process (see `escape_hatch`)
    "system_exit": "raise escape_hatch('stop the worker')",
}


def poisoned_model(script: str) -> str:
    """The shipped model with `script` run when the accept deadline fires, before the breach is recorded."""
    xml = SHIPPED.read_text(encoding="utf-8")
    xml = xml.replace('<bpmn:sequenceFlow id="Flow_Accept_Deadline" sourceRef="Accept_Deadline" '
                      'targetRef="Record_Accept_Breach"/>',
                      '<bpmn:sequenceFlow id="Flow_Accept_Deadline" sourceRef="Accept_Deadline" targetRef="Poison"/>'
                      '<bpmn:sequenceFlow id="Flow_Poisoned" sourceRef="Poison" targetRef="Record_Accept_Breach"/>'
                      '<bpmn:scriptTask id="Poison" name="Poison"><bpmn:incoming>Flow_Accept_Deadline</bpmn:incoming>'
                      f'<bpmn:outgoing>Flow_Poisoned</bpmn:outgoing><bpmn:script>{escape(script)}</bpmn:script>'
                      '</bpmn:scriptTask>', 1)
    xml = xml.replace('<bpmn:incoming>Flow_Accept_Deadline</bpmn:incoming><bpmn:outgoing>Flow_Accept_Breach_Recorded',
                      '<bpmn:incoming>Flow_Poisoned</bpmn:incoming><bpmn:outgoing>Flow_Accept_Breach_Recorded', 1)
    assert 'id="Poison"' in xml and "Flow_Poisoned</bpmn:incoming>" in xml
    return xml
