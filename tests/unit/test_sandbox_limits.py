"""Hostile BPMN code ends quickly with ScriptSecurityError instead of freezing the process or
allocating gigabytes.

Every case runs in its own Python process with a wall-clock timeout and a 2 GB address-space
limit, so that a regression fails its test instead of hanging the run or eating the machine.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADDRESS_SPACE = 2 * 1024 ** 3
TIMEOUT = 20

# Runs one case and prints {"outcome", "message", "seconds"}: outcome is "refused" for a
# ScriptSecurityError, "completed", or the name of any other exception.
RUNNER = """
import json, sys, time
from engine.workflow.errors import ScriptSecurityError
from engine.workflow.sandbox import RestrictedEnvironment, compile_expression, compile_script

kind, source, data = json.loads(sys.stdin.read())
environment = RestrictedEnvironment({"add_working_days": lambda start, days: f"{start}+{days}"})
run = {"expression": lambda: environment.evaluate(source, data),
       "script": lambda: environment.execute(source, data),
       "deploy expression": lambda: compile_expression(source),
       "deploy script": lambda: compile_script(source)}[kind]
started = time.perf_counter()
try:
    run()
    outcome, message = "completed", ""
except ScriptSecurityError as error:
    outcome, message = "refused", str(error)
except BaseException as error:
    outcome, message = type(error).__name__, str(error)
print(json.dumps({"outcome": outcome, "message": message, "seconds": time.perf_counter() - started}))
"""


def _limit_address_space() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def _run(kind: str, source: str, data: dict | None = None) -> dict:
    try:
        done = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps([kind, source, data or {}]), cwd=ROOT,
                              capture_output=True, text=True, timeout=TIMEOUT, preexec_fn=_limit_address_space)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{kind} {source[:80]!r} still ran after {TIMEOUT} s")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _assert_refused(result: dict, words: str, seconds: float = 0.5) -> None:
    assert result["outcome"] == "refused", result
    assert words.lower() in result["message"].lower(), result
    assert result["seconds"] < seconds, result


@pytest.mark.parametrize(("expression", "data"), [
    ("sum(range(10**18))", {}),
    ("sum(range(stop))", {"stop": 10 ** 18}),
    ("max(range(start, stop))", {"start": -(10 ** 18), "stop": 10 ** 18}),
])
def test_an_endless_c_level_loop_over_a_huge_range_is_refused(expression, data):
    _assert_refused(_run("expression", expression, data), "range()")


@pytest.mark.parametrize(("expression", "data", "words"), [
    ("pow(10, 10**8)", {}, "power"),
    ("pow(10, exponent)", {"exponent": 10 ** 8}, "power"),
    ("10 ** exponent", {"exponent": 10 ** 8}, "power"),
    ("1 << 10**9", {}, "shift"),
    ("1 << shift", {"shift": 10 ** 9}, "shift"),
    ("pow(3, 2 ** 60000, modulus)", {"modulus": 10 ** 1000 + 7}, "modular power"),
    ("round(5, -digits)", {"digits": 10 ** 9}, "round()"),
])
def test_a_number_too_large_to_compute_is_refused_before_it_is_computed(expression, data, words):
    _assert_refused(_run("expression", expression, data), words)


def test_squaring_a_number_in_a_loop_stops_at_the_size_limit():
    _assert_refused(_run("script", "x = 3\nfor i in range(40):\n    x = x * x"), "multiplication")


@pytest.mark.parametrize(("expression", "data"), [
    ("f'{1:>3000000000}'", {}),
    ("f'{1:>{width}}'", {"width": 3 * 10 ** 9}),
    ("f'{amount:.{digits}f}'", {"amount": 1.5, "digits": 10 ** 9}),
    ("'%3000000000d' % 1", {}),
    ("'%*d' % (10**9, 1)", {}),
    ("'%*d' % (width, 1)", {"width": 10 ** 9}),
    ("'%.*f' % (digits, 1.5)", {"digits": 10 ** 9}),
    ("b'%*d' % (width, 1)", {"width": 10 ** 9}),
    ("'{:>3000000000}'.format(1)", {}),
    ("str.format('{:>3000000000}', 1)", {}),
    ("'x'.ljust(10**9)", {}),
    ("text.ljust(width)", {"text": "x", "width": 10 ** 9}),
    ("text.rjust(width)", {"text": "x", "width": 10 ** 9}),
    ("text.center(width)", {"text": "x", "width": 10 ** 9}),
    ("text.zfill(width)", {"text": "1", "width": 10 ** 9}),
    ("'\\t'.expandtabs(10**9)", {}),
    ("text.expandtabs(size)", {"text": "\t" * 100, "size": 10 ** 8}),
    ("text.translate({97: 'x' * 100000})", {"text": "a" * 100000}),
])
def test_a_format_width_or_padding_that_would_make_gigabytes_is_refused(expression, data):
    result = _run("expression", expression, data)
    assert result["outcome"] == "refused" and result["seconds"] < 0.5, result


@pytest.mark.parametrize(("expression", "data", "words"), [
    ("'a' * 4000000000", {}, "repetition"),
    ("text * times", {"text": "ab", "times": 4 * 10 ** 9}, "repetition"),
    ("[0] * 10**9", {}, "repetition"),
    ("[0] * times", {"times": 10 ** 9}, "repetition"),
    ("bytes(10**9)", {}, "bytes()"),
    ("bytes(size)", {"size": 10 ** 9}, "bytes()"),
    ("bytearray(size)", {"size": 10 ** 9}, "bytearray()"),
    ("(1).to_bytes(size, 'big')", {"size": 10 ** 9}, "to_bytes()"),
    ("'-'.join(words * copies)", {"words": ["abc"], "copies": 10 ** 6}, "join()"),
    ("(text.replace('', text)).replace('', text)", {"text": "ab" * 300}, "replace()"),
])
def test_a_repetition_that_would_make_gigabytes_is_refused(expression, data, words):
    _assert_refused(_run("expression", expression, data), words)


@pytest.mark.parametrize(("script", "words"), [
    ("text = 'ab'\nwhile True:\n    text = text + text", "concatenation"),
    ("text = 'ab' * 500\nwhile True:\n    text = text.replace('', text)", "replace()"),
    ("items = [1]\nwhile True:\n    items.extend(items)", "extend()"),
    ("items = [1]\nwhile True:\n    items += items", "concatenation"),
    ("items = [1]\nwhile True:\n    items *= 2", "repetition"),
    ("total = sum([[0] * 1000] * 1000, [])", "memory budget"),
])
def test_doubling_in_a_loop_stops_at_the_size_limit(script, words):
    _assert_refused(_run("script", script), words)


@pytest.mark.parametrize("expression", [
    "[1 for a in range(10**6) for b in range(10**6)]",
    "all(a >= 0 for a in range(10**6) for b in range(10**6))",
    "sorted(items, key=lambda item: [0 for i in range(10**6)])",
])
def test_an_expression_with_a_loop_runs_under_the_line_budget(expression):
    _assert_refused(_run("expression", expression, {"items": list(range(100))}), "step budget")


@pytest.mark.parametrize(("kind", "source"), [
    ("script", "for i in range(10000):\n    total = sum(range(10**6))"),
    ("script", "big = list(range(10**6))\nfor i in range(10000):\n    found = -1 in big"),
    ("expression", "(big := [0] * 10**6) and [" + "1 in big, " * 1500 + "]"),
    ("expression", "(big := [0] * 10**6) and [" + "big.count(1), " * 1200 + "]"),
])
def test_many_bounded_c_operations_stop_at_the_cpu_time_budget(kind, source):
    # The budget is 0.5 s of CPU time; the wall clock may run longer on a busy machine.
    _assert_refused(_run(kind, source), "CPU-time budget", seconds=5)


@pytest.mark.parametrize("script", [
    "kept = []\nfor i in range(100):\n    kept.append('x' * 999_999)",
    "big = list(range(999_999))\nkept = [list(big) for i in range(100)]",
    "big = 'x' * 999_999\nkept = [big[1:] for i in range(100)]",
])
def test_what_the_guards_let_through_counts_against_the_memory_budget(script):
    _assert_refused(_run("script", script), "memory budget", seconds=2)


@pytest.mark.parametrize(("script", "words"), [
    ("x = 0\nfor i in range(100):\n    x = [x, x]", "task data"),
    ("x = 0\nfor i in range(100):\n    x = [x, x]\ntext = str(x)", "into text"),
    ("x = 0\nfor i in range(100):\n    x = [x, x]\ntext = f'{x}'", "into text"),
    ("x = 0\nfor i in range(100):\n    x = [x, x]\ntext = '%s' % (x,)", "into text"),
    ("x = 0\nfor i in range(100):\n    x = [x, x]\ntext = repr(x)", "into text"),
    ("handlers = [lambda: [1 for a in range(10**6) for b in range(10**6)]]", "functions or iterators"),
])
def test_a_value_that_would_explode_when_printed_or_stored_is_refused(script, words):
    _assert_refused(_run("script", script), words, seconds=2)


@pytest.mark.parametrize("script", [
    "raise SystemExit(1)",
    "raise KeyboardInterrupt",
    "raise GeneratorExit",
    "raise BaseException('stop')",
    "try:\n    pass\nexcept BaseException:\n    pass",
    "raise ValueError.mro()[1]('stop')",
])
def test_scripts_cannot_raise_what_stops_a_process(script):
    _assert_refused(_run("script", script), "not available")


@pytest.mark.parametrize(("script", "words"), [
    ("try:\n    text = 'a' * size\nexcept Exception:\n    text = 'caught'", "repetition"),
    ("try:\n    text = 'a' * size\nexcept:\n    text = 'caught'", "repetition"),
    ("while True:\n    try:\n        while True:\n            pass\n    except Exception:\n        pass",
     "step budget"),
])
def test_a_script_cannot_catch_a_refusal_and_carry_on(script, words):
    _assert_refused(_run("script", script, {"size": 10 ** 10}), words)


@pytest.mark.parametrize(("kind", "source", "words"), [
    ("deploy expression", "'a' * 4000000000", "repetition"),
    ("deploy expression", "[0] * 10**9", "repetition"),
    ("deploy expression", "10 ** 10 ** 10", "power"),
    ("deploy expression", "1 << 10**9", "shift"),
    ("deploy expression", "f'{1:>3000000000}'", "formatted text"),
    ("deploy expression", "f'{name} {1:>3000000000}'", "formatted text"),
    ("deploy expression", "'%3000000000d' % 1", "formatting"),
    ("deploy expression", "name.ljust(10**9)", "ljust"),
    ("deploy expression", "sum(range(10**18))", "range()"),
    ("deploy expression", "bytes(10**9)", "bytes()"),
    ("deploy script", "\n".join(f"part{i} = 'x' * 999_999" for i in range(100)), "memory budget"),
    ("deploy expression", "(" * 100_000 + ")" * 100_000, "longer than"),
    ("deploy expression", "+".join(["1"] * 10 ** 6), "longer than"),
    ("deploy expression", "+".join(["1"] * 5_000), "nested too deeply"),
    ("deploy expression", "+".join(["1"] * 200), "nested more than"),
    ("deploy expression", "-" * 9_000 + "1", "nested too deeply"),
    ("deploy script", "return 1", "'return' outside a function"),
    ("deploy script", "yield 1", "'yield' outside a function"),
    ("deploy expression", "(yield)", "'yield' outside a function"),
    ("deploy script", "def f():\n    try:\n        yield 1\n    finally:\n        pass", "try/finally"),
    ("deploy script", "x = 1\0", "null"),
    ("deploy script", "import os", "imports"),
])
def test_what_is_visible_in_the_source_is_refused_at_deploy(kind, source, words):
    _assert_refused(_run(kind, source), words)


# Two lists (and a tuple) of 2**60 parts "unfolded": each level holds the one below twice, so they
# are tiny in memory, but one C-level comparison or hash goes over every path and never ends.
_TWINS = "x = []\ny = []\nfor i in range(60):\n    x = [x, x]\n    y = [y, y]\n"
_TUPLES = "t = ()\nu = ()\nfor i in range(60):\n    t = (t, t)\n    u = (u, u)\n"


@pytest.mark.parametrize("line", [
    "same = x == y",
    "less = x < y",
    "different = x != y",
    "found = x in [y]",
    "count = [y].count(x)",
    "where = [y].index(x)",
    "largest = max([x, y])",
    "ordered = sorted([x, y])",
    "same = [x == y for i in range(1)]",
    "same = (lambda: x == y)()",
    # the same, reached another way
    "same = x == y == x",
    "smallest = min(x, y)",
    "[y].remove(x)",
    "pairs = [x, y]\npairs.sort()",
    "ordered = sorted([1, 2], key=lambda i: x if i == 1 else y)",
    "found = x in reversed([y])",
    "found = x in {1: y}.values()",
    "same = {1: x} == {1: y}",
    "same = {1: x}.items() == {1: y}.items()",
    "less = (x, 1) < (y, 2)",
    "same = slice(x) == slice(y)",
])
def test_comparing_aliased_nested_lists_is_refused(line):
    _assert_refused(_run("script", _TWINS + line), "too large to compare", seconds=2)


@pytest.mark.parametrize("line", [
    "d = {}\nd[t] = 1",
    "value = {(): 1}.get(t)",
    "found = t in {(): 1}",
    "s = {()}\ns.add(t)",
    "found = t in {(), (1,)}",
    "h = hash(t)",
    "d = {t: 1}",
    "s = {t}",
    "d = dict.fromkeys([t])",
    # the same, reached another way
    "value = {(): 1}[t]",
    "s = {*[t]}",
    "d = {k: 1 for k in [t]}",
    "s = {k for k in [t]}",
    "d = dict([(t, 1)])",
    "d = {}\nd.update([(t, 1)])",
    "s = {()}.union([t])",
    "s = {(): 1}.keys() & [t]",
    "s = [t] - {(): 1}.keys()",
    "d = {}\nd |= [(t, 1)]",
    "d = dict.fromkeys(reversed([t]))",
    "found = isinstance(1, t)",
    "same = t == u",
])
def test_hashing_aliased_nested_tuples_is_refused(line):
    result = _run("script", _TUPLES + line)
    assert result["outcome"] == "refused" and "too large to" in result["message"], result
    assert result["seconds"] < 2, result


@pytest.mark.parametrize("line", [
    "raise ValueError(x)",
    "try:\n    raise KeyError(x)\nexcept KeyError as error:\n    text = str(error)",
    "text = repr(slice(x))",
    "text = f'{ {1: x}.items() }'",
])
def test_aliased_nested_lists_cannot_reach_text_through_an_exception_or_a_view(line):
    _assert_refused(_run("script", _TWINS + line), "into text", seconds=2)


def test_ordering_a_deep_chain_of_shared_parts_is_refused():
    # Each level is [900 floats, the level below]: under a million parts, but `<` compares the
    # floats again at every level on its way down (quadratic), which would take many seconds.
    script = ("part = [float(i) for i in range(900)]\ntwin = [float(i) for i in range(900)]\nx = [0]\ny = [1]\n"
              "for i in range(900):\n    x = [part, x]\n    y = [twin, y]\nless = x < y")
    _assert_refused(_run("script", script), "too large to compare", seconds=2)


# Long texts held a million times: lists of a million parts, but comparing one with an equal
# list, searching it or sorting it compares a megabyte of text a million times.
_TEXTS = "s = 'x' * 999_999\nt = 'x' * 999_999\nu = 'x' * 999_998 + 'y'\nmany = [s] * 999_999\n"


@pytest.mark.parametrize("line", [
    "same = many == [t] * 999_999",
    "found = u in many",
    "count = many.count(u)",
    "largest = max([s, t] * 499_999)",
    "ordered = sorted([s, t] * 499_999)",
])
def test_comparing_a_long_text_held_many_times_is_refused(line):
    _assert_refused(_run("script", _TEXTS + line), "too large to compare", seconds=2)


# A number's hash is its value modulo 2**61 - 1, and a tuple's is made of its parts' hashes: a
# dict or set built of 100,000 distinct numbers 2**61 - 1 apart (or tuples of them) in one C-level
# call compares each with every one before it, for minutes ("hash flooding").
_FLOOD = "range(0, (2**61 - 1) * 10**5, 2**61 - 1)"


@pytest.mark.parametrize(("kind", "source"), [
    ("expression", f"dict.fromkeys({_FLOOD})"),
    ("expression", f"{{*{_FLOOD}}}"),
    ("expression", f"{{*[*{_FLOOD}]}}"),
    ("expression", f"{{}}.keys() | {_FLOOD}"),
    ("expression", f"dict([*map(divmod, {_FLOOD}, [1] * 10**5)])"),
    ("expression", f"{{*[*map(divmod, {_FLOOD}, [1] * 10**5)]}}"),
    ("script", f"keys = {{0}}\nkeys.update({_FLOOD})"),
    ("script", f"table = {{}}\ntable |= [*map(divmod, {_FLOOD}, [1] * 10**5)]"),
])
def test_many_distinct_keys_with_one_hash_are_refused_before_a_dict_or_set_is_built(kind, source):
    _assert_refused(_run(kind, source), "one hash", seconds=2)
