"""Process definitions: deploy a BPMN model as a new version, find the latest, cache parsed specs."""

from __future__ import annotations

import hashlib
from pathlib import Path
from threading import Lock
from typing import Literal, overload

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.errors import NotFound
from engine.models import ProcessDefinition
from engine.spiff_adapter import ParsedModel, parse_model

BPMN_DIR = Path(__file__).resolve().parent.parent / "bpmn"
LOAN_PROCESS_KEY = "loan_lifecycle"
# Who deployed the models shipped in bpmn/ (as opposed to an author).
SEED_ACTOR = "system:seed"


class SpecCache:
    """Parsed models keyed by the hash of their XML: a definition never changes once deployed."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], ParsedModel] = {}
        self._lock = Lock()

    def get(self, definition: ProcessDefinition) -> ParsedModel:
        key = (definition.sha256, definition.key)
        model = self._models.get(key)
        if model is None:
            model = parse_model(definition.bpmn_xml, definition.key)
            with self._lock:
                self._models[key] = model
        return model


def sha256_of(xml: str) -> str:
    return hashlib.sha256(xml.encode("utf-8")).hexdigest()


def deploy(session: Session, xml: str, actor: str, clock: Clock, key: str | None = None) -> ProcessDefinition:
    """Validate a model and store it as the next version of its process key.

    Deploying the same XML as the latest version returns that version instead of a copy.
    """
    model = parse_model(xml, key)
    digest = sha256_of(xml)
    latest = latest_definition(session, model.process_id, required=False)
    if latest is not None and latest.sha256 == digest:
        return latest
    definition = ProcessDefinition(
        key=model.process_id,
        version=(latest.version + 1) if latest else 1,
        name=model.name,
        bpmn_xml=xml,
        sha256=digest,
        deployed_at=clock.now(),
        deployed_by=actor,
    )
    session.add(definition)
    session.flush()
    return definition


def seed_shipped_models(session: Session, clock: Clock) -> list[ProcessDefinition]:
    """Deploy the models in bpmn/ that an author has not taken over; return what was deployed.

    A shipped model is deployed when its process has no version yet, or when the latest version
    is an earlier shipped one (this release updated it). Once an author has deployed a version,
    the shipped file never replaces it: `flask deploy bpmn/<file>` does that on purpose.
    """
    deployed = []
    for path in sorted(BPMN_DIR.glob("*.bpmn")):
        xml = path.read_text(encoding="utf-8")
        model = parse_model(xml)
        latest = latest_definition(session, model.process_id, required=False)
        if latest is None or (latest.deployed_by == SEED_ACTOR and latest.sha256 != sha256_of(xml)):
            deployed.append(deploy(session, xml, SEED_ACTOR, clock))
    return deployed


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
