"""BPMN scripts and expressions run restricted: escape attempts are refused with a clear error."""

from __future__ import annotations

import pytest

from engine.errors import ScriptSecurityError
from engine.sandbox import RestrictedEnvironment


@pytest.fixture
def sandbox():
    return RestrictedEnvironment({"add_working_days": lambda start, n: f"{start}+{n}"}, line_budget=1_000)


@pytest.mark.parametrize("expression", [
    "().__class__.__base__.__subclasses__()",
    "__import__('os')",
    "__import__('os').system('true')",
    "[].__class__.__mro__[1].__subclasses__()",
    "(lambda: 0).__globals__",
    "getattr((), '__class__')",
    "amount.__class__",
    "open('/etc/passwd').read()",
    "eval('1')",
    "exec('x = 1')",
    "compile('1', 'x', 'eval')",
    "globals()",
    "vars()",
    "'{0.__class__}'.format(1)",
    "10 ** 10 ** 10",
    "2 ** exponent",
])
def test_escape_attempts_in_expressions_are_refused(sandbox, expression):
    with pytest.raises((ScriptSecurityError, NameError, AttributeError, NotImplementedError)) as info:
        sandbox.evaluate(expression, {"amount": 5, "exponent": 99999999})
    assert str(info.value)


@pytest.mark.parametrize("expression", [
    "().__class__.__base__.__subclasses__()",
    "__import__('os')",
])
def test_the_classic_escapes_are_refused_by_the_sandbox_itself(sandbox, expression):
    with pytest.raises(ScriptSecurityError, match="starts with \"_\""):
        sandbox.evaluate(expression, {})


@pytest.mark.parametrize("script", [
    "import os",
    "from os import system",
    "while True:\n    pass",
    "def f():\n    return f()\nf()",
    "x = [i for i in range(10**9)]",
])
def test_escape_and_exhaustion_attempts_in_scripts_are_refused(sandbox, script):
    with pytest.raises((ScriptSecurityError, RecursionError)):
        sandbox.execute(script, {})


def test_imports_are_refused_with_a_clear_message(sandbox):
    with pytest.raises(ScriptSecurityError, match="Imports are not allowed"):
        sandbox.execute("import os", {})


def test_scripts_can_still_compute_with_task_data(sandbox):
    data = {"amount": 100, "items": [1, 2, 3]}
    sandbox.execute("total = amount + sum(items)\nlabels = {'a': 1}\nlabels['b'] = 2", data)
    assert data["total"] == 106 and data["labels"] == {"a": 1, "b": 2}


def test_expressions_can_call_the_engine_helpers(sandbox):
    assert sandbox.evaluate("add_working_days(submitted_at, 3)", {"submitted_at": "t"}) == "t+3"


def test_task_data_cannot_shadow_engine_helpers(sandbox):
    with pytest.raises(ScriptSecurityError, match="overwrites engine helpers"):
        sandbox.execute("x = 1", {"add_working_days": "oops"})


def test_the_line_budget_counts_the_scripts_own_lines_only():
    def busy_helper(n):  # engine code: its lines are not the script's
        total = 0
        for i in range(n):
            total += i
        return total

    sandbox = RestrictedEnvironment({"busy_helper": busy_helper}, line_budget=100)
    context = {}
    assert sandbox.execute("result = busy_helper(5_000)", context)
    assert context["result"] == sum(range(5_000))
    with pytest.raises(ScriptSecurityError, match="step budget"):
        sandbox.execute("i = 0\nwhile True:\n    i = i + 1", {})
    with pytest.raises((ScriptSecurityError, RecursionError)):
        sandbox.execute("def f(n):\n    return f(n + 1)\nf(0)", {})
