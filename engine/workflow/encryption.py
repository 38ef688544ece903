"""Columns encrypted at rest (AES-256-GCM) and keyed lookup hashes (HMAC-SHA256).

A stored value reads `pd1:<key id>:<base64url(nonce | ciphertext | tag)>`: the key id (the first
eight hex digits of the key's SHA-256) names the key that encrypted it, so several keys can be live
at once during a rotation: the first key of the keyring encrypts, every key decrypts. Each column
binds its own name into the ciphertext as associated data, so a value copied into another column
does not decrypt there.

Equality lookups cannot work on ciphertexts (each encryption draws a fresh nonce); a column that
must be found by value keeps a companion `*_hash` column: `<key id>:<HMAC-SHA256 hex>` of the
normalised value under a separate hash key.

The keyring is process-wide (column types are shared by every engine): the application installs it
at start-up (`install`); using an encrypted column before that raises KeysMissing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.types import TypeDecorator

PREFIX = "pd1"
_NONCE = 12
_TAG = 16


class KeysMissing(RuntimeError):
    """An encrypted column was used before a keyring was installed."""


class UndecryptableValue(ValueError):
    """A stored value is not a ciphertext, or no key of the keyring opens it."""


def key_id(key: bytes) -> str:
    """The first eight hex digits of the key's SHA-256: names a key without revealing it."""
    return hashlib.sha256(key).hexdigest()[:8]


def decode_key(text: str, name: str) -> bytes:
    """A key written as URL-safe base64 of 32 random bytes; ValueError naming `name` otherwise."""
    try:
        key = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (ValueError, TypeError):
        raise ValueError(f"{name} must be URL-safe base64 of 32 bytes") from None
    if len(key) != 32:
        raise ValueError(f"{name} must be URL-safe base64 of 32 bytes, got {len(key)} bytes")
    return key


def new_key() -> str:
    """A fresh key in the form the settings take."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@dataclass(frozen=True)
class Keyring:
    """Encryption keys, newest first (the first encrypts, all decrypt), and the lookup-hash key."""

    keys: tuple[bytes, ...]
    hash_key: bytes
    derived: bool = False  # derived from SECRET_KEY (development and tests only)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a keyring needs at least one encryption key")
        ids = [key_id(key) for key in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError("the keyring lists the same key twice")

    @property
    def current_id(self) -> str:
        return key_id(self.keys[0])

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(key_id(key) for key in self.keys)

    @property
    def hash_id(self) -> str:
        return key_id(self.hash_key)

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(self.keys[0]).encrypt(nonce, plaintext.encode(), context.encode())
        return f"{PREFIX}:{self.current_id}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def decrypt(self, stored: str, context: str) -> str:
        version, _, rest = stored.partition(":")
        wanted, _, body = rest.partition(":")
        if version != PREFIX or not body:
            raise UndecryptableValue(f"{context}: the stored value is not a ciphertext (plaintext left behind?)")
        key = next((key for key in self.keys if key_id(key) == wanted), None)
        if key is None:
            raise UndecryptableValue(f"{context}: encrypted with key {wanted}, which the keyring no longer holds")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], context.encode()).decode()
        except (InvalidTag, ValueError):
            raise UndecryptableValue(f"{context}: the ciphertext does not open with key {wanted}") from None

    def lookup_hash(self, kind: str, value: str) -> str:
        digest = hmac.new(self.hash_key, f"{kind}:{normalise(kind, value)}".encode(), hashlib.sha256).hexdigest()
        return f"{self.hash_id}:{digest}"


def normalise(kind: str, value: str) -> str:
    """What a lookup compares: ID numbers upper-cased, phones without spaces or hyphens, addresses lower-cased."""
    value = value.strip()
    if kind == "id_number":
        return value.upper()
    if kind == "phone":
        return value.replace(" ", "").replace("-", "")
    return value.lower()


_installed: Keyring | None = None


def install(keyring: Keyring) -> None:
    """Make `keyring` the one every encrypted column uses in this process."""
    global _installed
    _installed = keyring


def installed() -> Keyring:
    if _installed is None:
        raise KeysMissing("No personal-data keyring installed (engine.workflow.encryption.install)")
    return _installed


def has_keyring() -> bool:
    return _installed is not None


def lookup_hash(kind: str, value: str) -> str:
    """The hash a `*_hash` column holds for `value` under the installed hash key."""
    return installed().lookup_hash(kind, value)


def ciphertext_length(plain_characters: int) -> int:
    """Characters a ciphertext of up to `plain_characters` characters takes (UTF-8: at most 4 bytes each)."""
    raw = _NONCE + 4 * plain_characters + _TAG
    return len(PREFIX) + 1 + 8 + 1 + (raw + 2) // 3 * 4


HASH_LENGTH = 8 + 1 + 64


class Encrypted(TypeDecorator):
    """A string encrypted on the way in and decrypted on the way out; `context` names the column."""

    impl = sa.String
    cache_ok = True

    def __init__(self, plain_length: int, context: str) -> None:
        super().__init__(ciphertext_length(plain_length))
        self.plain_length = plain_length
        self.context = context

    def process_bind_param(self, value: str | None, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        if len(value) > self.plain_length:
            raise ValueError(f"{self.context}: longer than {self.plain_length} characters")
        return installed().encrypt(value, self.context)

    def process_result_value(self, value: str | None, dialect: sa.Dialect) -> str | None:
        if value is None:
            return None
        return installed().decrypt(value, self.context)


def keep_lookup_hash(attribute: Any, hash_attribute: str, kind: str) -> None:
    """Keep `hash_attribute` of the same object in step with `attribute` whenever the ORM sets it."""
    def _set(target: Any, value: str | None, _old: Any, _initiator: Any) -> None:
        setattr(target, hash_attribute, None if value is None else lookup_hash(kind, value))

    listener: Callable[..., None] = _set
    sa.event.listen(attribute, "set", listener)
