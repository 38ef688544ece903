"""Personal data at rest: which columns are encrypted, the keyring from the settings, rotation.

ID and phone numbers (个人信息保护法: an ID number is sensitive personal information), the legal
representative's name (an enterprise's and a pending registration's) and users' e-mail addresses are stored
encrypted (engine.workflow.encryption); pages, exports and the officer's reveal read them decrypted
through the ORM and mask them as before (engine/platform/privacy.py). Lookups by value go through
keyed hashes: the registration's throttle per contact (`pending_registration.address_hash`) and the
admins' search of enterprises by phone or ID number (`enterprise.*_hash`).

Keys come from PERSONAL_DATA_KEYS (newest first) and PERSONAL_DATA_HASH_KEY; outside production an
empty setting derives both from a secret (a warning is logged), production refuses to start without
them (config.ProductionConfig.validate) or with data no key of the keyring opens (`keys_in_use`).
`rotate` re-encrypts every row still under an older key, and recomputes hashes made with an older
hash key, batch by batch: it can be stopped and run again (docs/OPERATIONS.md).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.models import Enterprise, PendingRegistration, UserAccount
from engine.workflow.encryption import PREFIX, Keyring, decode_key, install, installed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EncryptedColumn:
    model: Any
    name: str
    hash_name: str | None = None  # the companion lookup hash, if the column is found by value
    kind: str = ""


ENCRYPTED_COLUMNS = (
    EncryptedColumn(Enterprise, "representative_id_number", "representative_id_number_hash", "id_number"),
    EncryptedColumn(Enterprise, "contact_phone", "contact_phone_hash", "phone"),
    EncryptedColumn(PendingRegistration, "address", "address_hash", "contact"),
    EncryptedColumn(Enterprise, "legal_representative"),
    EncryptedColumn(PendingRegistration, "legal_representative"),
    EncryptedColumn(UserAccount, "email"),
)


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"xinyidai-personal-data", info=purpose).derive(
        secret.encode())


def keyring_from_settings(keys: str, hash_key: str, fallback_secret: str | None) -> Keyring:
    """The keyring the settings name; with both empty, keys derived from `fallback_secret` (not in production:
    None refuses). ValueError for a malformed key."""
    if not keys.strip() and not hash_key.strip():
        if fallback_secret is None:
            raise ValueError("PERSONAL_DATA_KEYS and PERSONAL_DATA_HASH_KEY must be set")
        return Keyring((_derive(fallback_secret, b"encryption"),), _derive(fallback_secret, b"lookup-hash"),
                       derived=True)
    if not keys.strip() or not hash_key.strip():
        raise ValueError("PERSONAL_DATA_KEYS and PERSONAL_DATA_HASH_KEY must be set together")
    parts = [part for part in (piece.strip() for piece in keys.split(",")) if part]
    encryption = tuple(decode_key(part, f"PERSONAL_DATA_KEYS[{index}]") for index, part in enumerate(parts))
    lookup = decode_key(hash_key, "PERSONAL_DATA_HASH_KEY")
    if lookup in encryption:
        raise ValueError("PERSONAL_DATA_HASH_KEY must differ from every encryption key")
    return Keyring(encryption, lookup)


def install_from_settings(keys: str, hash_key: str, fallback_secret: str | None) -> Keyring:
    """Build the keyring from the settings and make it this process's; a derived one is logged as a warning."""
    keyring = keyring_from_settings(keys, hash_key, fallback_secret)
    if keyring.derived:
        log.warning("PERSONAL_DATA_KEYS is not set: personal data is encrypted with a key derived from "
                    "SECRET_KEY (development and tests only; production refuses to start without explicit keys)")
    install(keyring)
    return keyring


def _stored(column: EncryptedColumn) -> Any:
    """The column as stored (the ciphertext), for comparisons that must not encrypt their operand."""
    return sa.type_coerce(getattr(column.model, column.name), sa.String)


def keys_in_use(session: Any) -> dict[str, set[str]]:
    """Key ids found in the data, per column ('plaintext' for a value that is no ciphertext)."""
    found: dict[str, set[str]] = {}
    for column in ENCRYPTED_COLUMNS:
        stored = _stored(column)
        ids = session.scalars(sa.select(sa.func.substr(stored, len(PREFIX) + 2, 8)).distinct()
                              .where(stored.is_not(None), stored.like(f"{PREFIX}:%"))).all()
        plain = session.scalar(sa.select(sa.func.count()).where(stored.is_not(None), stored.not_like(f"{PREFIX}:%")))
        found[f"{column.model.__tablename__}.{column.name}"] = set(ids) | ({"plaintext"} if plain else set())
    return found


def unreadable(session: Any, keyring: Keyring | None = None) -> list[str]:
    """Columns holding values the keyring cannot open (a retired key, or plaintext), e.g. `enterprise.contact_phone
    (key 1a2b3c4d)`; empty when every value opens."""
    known = {key_id for key_id in (keyring or installed()).key_ids}
    return [f"{name} (key {key})" for name, keys in keys_in_use(session).items() for key in sorted(keys - known)]


@dataclass(frozen=True)
class RotationProgress:
    column: str
    done: int
    remaining: int


def _behind(column: EncryptedColumn, keyring: Keyring) -> Any:
    """Rows of the column still encrypted with an older key or hashed with an older hash key."""
    stored = _stored(column)
    stale = sa.and_(stored.is_not(None), stored.not_like(f"{PREFIX}:{keyring.current_id}:%"))
    if column.hash_name is not None:
        hashed = getattr(column.model, column.hash_name)
        stale = sa.or_(stale, sa.and_(stored.is_not(None), sa.or_(
            hashed.is_(None), hashed.not_like(f"{keyring.hash_id}:%"))))
    return stale


def remaining(session: Any) -> dict[str, int]:
    """Rows per column a rotation has still to rewrite."""
    keyring = installed()
    return {f"{column.model.__tablename__}.{column.name}": int(session.scalar(
        sa.select(sa.func.count()).select_from(column.model).where(_behind(column, keyring))) or 0)
        for column in ENCRYPTED_COLUMNS}


def rotate(engine: Any, batch_size: int = 500,
           progress: Callable[[RotationProgress], None] | None = None) -> int:
    """Re-encrypt every value not under the newest key (and rehash those hashed with an older hash key), one
    transaction per batch; return how many rows were rewritten. Safe to interrupt and run again."""
    keyring, rewritten = installed(), 0
    for column in ENCRYPTED_COLUMNS:
        name, model = f"{column.model.__tablename__}.{column.name}", column.model
        done = 0
        while True:
            with engine.transaction() as session:
                rows = session.execute(sa.select(model.id, getattr(model, column.name)).where(
                    _behind(column, keyring)).order_by(model.id).limit(batch_size).with_for_update()).all()
                for row_id, value in rows:
                    changes = {column.name: value}
                    if column.hash_name is not None:
                        changes[column.hash_name] = keyring.lookup_hash(column.kind, value)
                    session.execute(sa.update(model).where(model.id == row_id).values(**changes)
                                    .execution_options(synchronize_session=False))
                left = int(session.scalar(sa.select(sa.func.count()).select_from(model)
                                          .where(_behind(column, keyring))) or 0)
            done += len(rows)
            if progress is not None:
                progress(RotationProgress(name, done, left))
            if len(rows) < batch_size or not rows:
                break
        rewritten += done
    return rewritten
