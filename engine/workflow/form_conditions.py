"""The FEEL subset a form's `conditional.hide` may use: `=<key> = <literal>` and `!=`, joined by
`and` / `or` (and binds tighter). Parsed into a small tree at deploy time, never evaluated as code."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MAX_CONDITION_LENGTH = 1000
# A field's key: the name the submitted data uses (and what a condition refers to).
KEY = re.compile(r"[a-z][a-z0-9_]{0,63}", re.ASCII)


class ConditionError(ValueError):
    """Why a condition is refused (the form parser names the form and the field)."""


_FEEL_TOKEN = re.compile(r'\s*(?:(?P<text>"[^"\\\x00-\x1f]*")|(?P<number>-?[0-9]+(?:\.[0-9]+)?)(?![\w.])'
                         r"|(?P<op>!=|=)|(?P<word>[A-Za-z_]\w*))", re.ASCII)
_FEEL_LITERALS: dict[str, bool | None] = {"true": True, "false": False, "null": None}
_FEEL_RESERVED = frozenset({"and", "or", "not", "true", "false", "null"})


@dataclass(frozen=True)
class Comparison:
    """`<key> = <literal>` (equal) or `<key> != <literal>`."""

    key: str
    equal: bool
    literal: str | Decimal | bool | None

    def holds(self, values: Mapping[str, Any]) -> bool:
        return _same(values.get(self.key), self.literal) == self.equal


@dataclass(frozen=True)
class Condition:
    """A FEEL `conditional.hide` of the subset: comparisons joined by `and` inside `or`."""

    source: str
    alternatives: tuple[tuple[Comparison, ...], ...]

    def holds(self, values: Mapping[str, Any]) -> bool:
        return any(all(c.holds(values) for c in terms) for terms in self.alternatives)

    @property
    def keys(self) -> set[str]:
        return {c.key for terms in self.alternatives for c in terms}

    def as_data(self) -> list[list[list[Any]]]:
        """The condition as JSON for the page's script: [[[key, "=" | "!=", literal], ...and], ...or]."""
        return [[[c.key, "=" if c.equal else "!=", _json_literal(c.literal)] for c in terms]
                for terms in self.alternatives]


def parse_condition(source: Any) -> Condition:
    """`=<key> = <literal>` / `=<key> != <literal>` joined by `and` / `or` (and binds tighter)."""
    if not isinstance(source, str) or not source.startswith("=") or len(source) > MAX_CONDITION_LENGTH:
        raise ConditionError(f"conditional.hide must be a FEEL expression starting with = "
                   f"(at most {MAX_CONDITION_LENGTH} characters).")
    tokens: list[tuple[str, str]] = []
    position = 1
    while source[position:].strip():
        match = _FEEL_TOKEN.match(source, position)
        if match is None:
            raise ConditionError(f"conditional.hide: cannot read {source[position:].strip()[:20]!r} "
                       f"(supported: <key> = <literal> or != joined by and / or).")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
    alternatives: list[tuple[Comparison, ...]] = []
    terms: list[Comparison] = []
    for index in range(0, len(tokens), 4):
        key, operator, literal = (tokens[index:index + 3] + [("", "")] * 3)[:3]
        joiner = tokens[index + 3] if index + 3 < len(tokens) else ("", "")
        if (key[0] != "word" or key[1] in _FEEL_RESERVED or not KEY.fullmatch(key[1]) or operator[0] != "op"
                or joiner[1] not in ("", "and", "or") or (joiner[1] and index + 4 >= len(tokens))):
            raise ConditionError(f"conditional.hide {source!r} is not <key> = <literal> or != joined by and / or.")
        terms.append(Comparison(key[1], operator[1] == "=", _literal(literal, source)))
        if joiner[1] != "and":
            alternatives.append(tuple(terms))
            terms = []
    if not alternatives:
        raise ConditionError("conditional.hide is empty.")
    return Condition(source, tuple(alternatives))


def _literal(token: tuple[str, str], source: str) -> str | Decimal | bool | None:
    kind, text = token
    if kind == "text":
        return text[1:-1]
    if kind == "number":
        return Decimal(text)
    if kind == "word" and text in _FEEL_LITERALS:
        return _FEEL_LITERALS[text]
    raise ConditionError(f"conditional.hide {source!r}: compare with a string, a number, true, false or null.")


def _same(value: Any, literal: str | Decimal | bool | None) -> bool:
    """FEEL equality without conversions: a number equals only a number, a string only a string."""
    if literal is None or isinstance(literal, bool):
        return value is literal
    if isinstance(literal, Decimal):
        return isinstance(value, (int, Decimal)) and not isinstance(value, bool) and value == literal
    return isinstance(value, str) and value == literal


def _json_literal(literal: str | Decimal | bool | None) -> Any:
    if isinstance(literal, Decimal):
        return int(literal) if literal == literal.to_integral_value() else float(literal)
    return literal
