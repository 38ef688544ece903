"""A restricted environment for BPMN scripts and expressions.

SpiffWorkflow's default environment is plain eval/exec, so a model could run any code. Here
every script and expression is compiled with RestrictedPython (no imports, no names or
attributes starting with an underscore, guarded item and attribute writes), sees only a
whitelist of builtins and the helpers the engine provides, and runs within budgets:

- code with loops or functions runs under a tracer that counts its lines (the line budget) and
  looks at the CPU-time budget every few lines; straight-line code needs no tracer;
- work that a tracer cannot interrupt because it is a single C-level call (`*`, `+`, `**`, `<<`,
  `%`, f-string fields, `range`, padding and copying) goes through guards, which refuse a result
  too large before computing it and charge what they let through to a memory budget;
- so do comparisons, `in`, hashing (dict and set keys), sorting and set operations, which go over
  a nested container once for every way a part is reachable: a container whose "unfolded" size
  is too large (`x = [x, x]` sixty times) is refused before C code goes into it;
- an exception leaving the code with arguments too large to turn into text is refused.

What is visible in the source is refused when the model is deployed (engine.workflow.sandbox.static): huge
constant powers, repetitions and widths, imports, BaseException classes, top-level return/yield,
and sources too long or too deeply nested to compile safely.

The modules, from the outside in: environment (RestrictedEnvironment, the tracer), compiler (the
RestrictedPython policy and the guards it calls), static (deploy-time refusals); the guards:
operators (`*`, `**`, `<<`, `%`, formats), containers (comparisons, `in`, hashing), ordering
(sorting, max/min), builtins (guarded builtins and methods); what they build on: sizes (text and
constructor sizes), unfolded (the size of a nested container as C code goes over it) and budget
(the limits and what an evaluation may still spend).
"""

from engine.workflow.sandbox.compiler import SCRIPT_FILENAME, compile_expression, compile_script
from engine.workflow.sandbox.environment import RestrictedEnvironment

__all__ = ["SCRIPT_FILENAME", "RestrictedEnvironment", "compile_expression", "compile_script"]
