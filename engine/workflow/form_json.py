"""Reading a form-js document safely: bounded in bytes and nesting, keys unique, numbers finite."""

from __future__ import annotations

import json
from typing import Any

from engine.workflow.errors import ModelError

MAX_FORM_BYTES = 200 * 1024
MAX_DEPTH = 20


def load_form_json(raw: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """A form document as a JSON object, or ModelError: bounded in size and depth, no repeated keys,
    no NaN or infinity."""
    if isinstance(raw, dict):
        _check_depth(raw)
        try:
            raw = json.dumps(raw, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise ModelError(f"Form: not JSON data ({error}).") from None
    if isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogatepass")
    if not isinstance(raw, bytes):
        raise ModelError("Form: expected JSON text or an object.")
    if len(raw) > MAX_FORM_BYTES:
        raise ModelError(f"Form: at most {MAX_FORM_BYTES // 1024} KB of JSON, not {len(raw)} bytes.")
    try:
        document = json.loads(raw.decode("utf-8"), object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except RecursionError:
        raise ModelError(f"Form: JSON nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ModelError(f"Form: not valid JSON ({error}).") from None
    _check_depth(document)
    if not isinstance(document, dict):
        raise ModelError("Form: the JSON must be an object.")
    return document


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("a key is repeated in an object")
    return document


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _check_depth(document: Any) -> None:
    pending = [(document, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ModelError(f"Form: JSON nested deeper than {MAX_DEPTH} levels.")
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        pending.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
