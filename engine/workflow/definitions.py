"""Process definitions: deploy a BPMN model (with the forms it names) as a new version, find the
latest, cache parsed specs and forms."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from threading import Lock
from typing import Any, Literal, overload

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.workflow.adapter import (
    ParsedModel,
    called_decisions,
    parse_model,
    parse_xml_safely,
    service_operators,
    start_event_properties,
    user_task_properties,
)
from engine.workflow.clock import Clock
from engine.workflow.errors import ModelError, NotFound
from engine.workflow.forms import FormDefinition, parse_form
from engine.workflow.models import ProcessDefinition, ProcessResource, table_of

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
FORMS_DIR = BPMN_DIR / "forms"
DECISIONS_DIR = BPMN_DIR / "decisions"
# Who may act on a user task (its `role` property): see docs/MODELING.md.
ROLES = ("enterprise", "institution", "supervisor", "operator")
# Who deployed the models shipped in bpmn/ (as opposed to an author).
SEED_ACTOR = "system:seed"


class SpecCache:
    """Parsed models keyed by the hash of their XML: a definition never changes once deployed."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], ParsedModel] = {}
        self._lock = Lock()

    def get(self, definition: ProcessDefinition, session: Session) -> ParsedModel:
        """The parsed model of a definition; `session` reads the decision tables deployed with it."""
        key = (definition.sha256, definition.key)
        model = self._models.get(key)
        if model is None:
            model = parse_model(definition.bpmn_xml, definition.key, decisions_of(session, definition.id))
            with self._lock:
                self._models[key] = model
        return model


def sha256_of(xml: str, forms: Mapping[str, str] | None = None,
              decisions: Mapping[str, str] | None = None) -> str:
    """The hash of a deployment: the BPMN and every form and decision table deployed with it."""
    digest = hashlib.sha256(xml.encode("utf-8"))
    for kind, texts in ((b"form", forms or {}), (b"dmn", decisions or {})):
        for key in sorted(texts):
            digest.update(b"\0" + kind + b"\0" + key.encode("utf-8") + b"\0" + texts[key].encode("utf-8"))
    return digest.hexdigest()


def check_model(model: ParsedModel, forms: Mapping[str, FormDefinition],
                operations: Collection[str] | None = None) -> None:
    """Refuse a model whose user tasks name no known role or a form not deployed with it, or (when the
    platform's `operations` are given) an `onComplete` or service operator the platform lacks."""
    for bpmn_id, properties in user_task_properties(model):
        role = properties.get("role")
        if role not in ROLES:
            raise ModelError(f"User task {bpmn_id} needs a role property, one of {', '.join(ROLES)} "
                             f"(found {role!r})", activity=bpmn_id)
        form_key = properties.get("form")
        if form_key and form_key not in forms:
            raise ModelError(f"User task {bpmn_id} names the form {form_key!r}, which is not deployed with "
                             "the model", activity=bpmn_id)
        effect = properties.get("onComplete")
        if operations is not None and effect and effect not in operations:
            raise ModelError(f"User task {bpmn_id} names the operation {effect!r}, which the platform does "
                             f"not have", activity=bpmn_id)
    for bpmn_id, operator in service_operators(model):
        if operations is not None and operator not in operations:
            raise ModelError(f"Service task {bpmn_id} calls the operator {operator!r}, which the platform "
                             f"does not have", activity=bpmn_id)


def _form_keys(model: ParsedModel) -> set[str]:
    """The forms a model names: its user tasks' and its start event's (the start data's form)."""
    keys = {properties["form"] for _, properties in user_task_properties(model) if properties.get("form")}
    start_form = start_event_properties(model).get("form")
    return keys | {start_form} if start_form else keys


def _form_texts(forms: Mapping[str, str | Mapping[str, object]] | None) -> dict[str, str]:
    texts = {}
    for key, form in (forms or {}).items():
        texts[key] = form if isinstance(form, str) else json.dumps(form, ensure_ascii=False, sort_keys=True)
    return texts


def parse_forms(texts: Mapping[str, str]) -> dict[str, FormDefinition]:
    parsed = {}
    for name, text in texts.items():
        form = parse_form(text)
        if form.key != name:
            raise ModelError(f"The form deployed as {name!r} has the id {form.key!r}")
        parsed[form.key] = form
    return parsed


def deploy(session: Session, xml: str, actor: str, clock: Clock, key: str | None = None,
           forms: Mapping[str, str | Mapping[str, object]] | None = None,
           reason: str | None = None, operations: Collection[str] | None = None,
           decisions: Mapping[str, str] | None = None) -> ProcessDefinition:
    """Validate a model with its forms and decision tables and store them as the next version of
    its process key.

    `forms` maps each form key to its form-js JSON (text or parsed), `decisions` each decision id
    its DMN document; a form or decision the model names but the bundle leaves out is carried over
    from the latest version. `operations` (the platform's
    named operations, see Engine.operation_names) makes unknown ones a deploy-time refusal. Deploying the same bundle
    as the latest version returns that version instead of a copy. The definition row is the
    deploy's record: who, when, why and the bundle's sha256; it is never changed.
    """
    tables = dict(decisions or {})
    called = called_decisions(parse_xml_safely(xml))
    latest = latest_definition(session, key, required=False) if key else None
    if latest is None:
        latest = latest_definition(session, _process_id_of(xml), required=False)
    if latest is not None:  # decision tables the bundle leaves out are the previous version's
        for row in _resources(session, latest.id, "dmn"):
            if row.name in called and row.name not in tables:
                tables[row.name] = row.content
    missing = sorted(called - set(tables))
    if missing:
        raise ModelError(f"The model calls the decision {missing[0]!r}, which is not deployed with it")
    model = parse_model(xml, key, {name: tables[name] for name in sorted(called)})
    texts = _form_texts(forms)
    if latest is not None:  # forms the bundle leaves out are the previous version's
        named = _form_keys(model)
        for row in _resources(session, latest.id, "form"):
            if row.name in named and row.name not in texts:
                texts[row.name] = row.content
    check_model(model, parse_forms(texts), operations)
    tables = {name: tables[name] for name in sorted(called)}
    digest = sha256_of(xml, texts, tables)
    if latest is not None and latest.sha256 == digest:
        return latest
    now = clock.now()
    definition = ProcessDefinition(
        key=model.process_id,
        version=(latest.version + 1) if latest else 1,
        name=model.name,
        bpmn_xml=xml,
        sha256=digest,
        deployed_at=now,
        deployed_by=actor,
        reason=reason,
    )
    session.add(definition)
    session.flush()
    for name, text in sorted(texts.items()):
        session.add(ProcessResource(definition_id=definition.id, kind="form", name=name, content=text))
    for name, text in sorted(tables.items()):
        session.add(ProcessResource(definition_id=definition.id, kind="dmn", name=name, content=text))
    session.flush()
    return definition


def shipped_forms(model: ParsedModel) -> dict[str, str]:
    """The forms in bpmn/forms/ that a shipped model's user tasks name."""
    keys = _form_keys(model)
    return {key: (FORMS_DIR / f"{key}.form.json").read_text(encoding="utf-8")
            for key in sorted(keys) if (FORMS_DIR / f"{key}.form.json").is_file()}


def shipped_decisions(xml: str, directory: Path = BPMN_DIR) -> dict[str, str]:
    """The decision tables in `directory`/decisions/ (one `<decision id>.dmn` each) a model calls."""
    folder = directory / "decisions"
    return {name: (folder / f"{name}.dmn").read_text(encoding="utf-8")
            for name in sorted(called_decisions(parse_xml_safely(xml)))
            if (folder / f"{name}.dmn").is_file()}


_FORM_PROPERTY = ".//{http://spiffworkflow.org/bpmn/schema/1.0/core}property[@name='form']"


def bundle_beside(directory: Path, xml: str) -> tuple[dict[str, str], dict[str, str]]:
    """The forms (`forms/<key>.form.json`) and decision tables (`decisions/<id>.dmn`) in `directory`
    that a model names: what `flask deploy FILE` deploys with FILE."""
    keys = {node.get("value") for node in parse_xml_safely(xml).iterfind(_FORM_PROPERTY) if node.get("value")}
    forms = {key: (directory / "forms" / f"{key}.form.json").read_text(encoding="utf-8")
             for key in sorted(keys) if (directory / "forms" / f"{key}.form.json").is_file()}
    return forms, shipped_decisions(xml, directory)


def _process_id_of(xml: str) -> str:
    """The id of a document's executable process (its only process if none says so), before parsing."""
    root = parse_xml_safely(xml)
    processes = [node for node in root if isinstance(node.tag, str) and node.tag.endswith("}process")]
    executable = [node for node in processes if node.get("isExecutable") == "true"] or processes
    return str(executable[0].get("id")) if len(executable) == 1 else ""


def _resources(session: Session, definition_id: int, kind: str) -> list[ProcessResource]:
    return list(session.scalars(sa.select(ProcessResource).where(
        ProcessResource.definition_id == definition_id, ProcessResource.kind == kind)))


def decisions_of(session: Session, definition_id: int) -> dict[str, str]:
    """The DMN documents deployed with a definition, by decision id."""
    return {row.name: row.content for row in _resources(session, definition_id, "dmn")}


def forms_of(session: Session, definition_id: int) -> dict[str, FormDefinition]:
    """The parsed forms deployed with a definition."""
    return parse_forms({row.name: row.content for row in _resources(session, definition_id, "form")})


def seed_shipped_models(session: Session, clock: Clock,
                        operations: Collection[str] | None = None) -> list[ProcessDefinition]:
    """Deploy the models in bpmn/ that an author has not taken over; return what was deployed.

    A shipped model is deployed when its process has no version yet, or when the latest version
    is an earlier shipped one (this release updated it). Once an author has deployed a version,
    the shipped file never replaces it: `flask deploy bpmn/<file>` does that on purpose.
    """
    deployed = []
    for path in sorted(BPMN_DIR.glob("*.bpmn")):
        xml = path.read_text(encoding="utf-8")
        decisions = shipped_decisions(xml)
        model = parse_model(xml, decisions=decisions)
        forms = shipped_forms(model)
        latest = latest_definition(session, model.process_id, required=False)
        if latest is None or (latest.deployed_by == SEED_ACTOR
                              and latest.sha256 != sha256_of(xml, forms, decisions)):
            deployed.append(deploy(session, xml, SEED_ACTOR, clock, forms=forms, reason="shipped model",
                                   operations=operations, decisions=decisions))
    return deployed


# Prepared once: only the id (the definition itself, with its XML, comes from the engine's cache).
_DEFINITION = table_of(ProcessDefinition)
LATEST_DEFINITION_ID = (sa.select(_DEFINITION.c.id).where(_DEFINITION.c.key == sa.bindparam("key"))
                        .order_by(_DEFINITION.c.version.desc()).limit(1))


def latest_definition_id(key: str) -> sa.ScalarSelect[Any]:
    """The newest version's id of `key` as a column of another statement (then `Engine.definition`)."""
    return LATEST_DEFINITION_ID.params(key=key).scalar_subquery()


@overload
def latest_definition(session: Session, key: str, required: Literal[True] = True) -> ProcessDefinition: ...
@overload
def latest_definition(session: Session, key: str, required: bool) -> ProcessDefinition | None: ...
def latest_definition(session: Session, key: str, required: bool = True) -> ProcessDefinition | None:
    """The newest deployed version of `key`; NotFound if there is none, unless not `required`."""
    definition = session.scalars(
        sa.select(ProcessDefinition)
        .where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).first()
    if definition is None and required:
        raise NotFound(f"No process definition {key!r} is deployed")
    return definition
