"""The webhook signature: HMAC-SHA256 over "<timestamp>.<body>", one `v1=` per live secret."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable


def signature(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], timestamp: str, body: bytes) -> str:
    """`v1=<hex>` for each secret, comma-separated (two while a secret is being rotated)."""
    return ",".join(f"v1={signature(secret, timestamp, body)}" for secret in secrets)


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """True if any `v1=` signature in `header` is `secret`'s over this timestamp and body."""
    expected = signature(secret, timestamp, body)
    candidates = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
