"""Institutions' webhook endpoints: set the URL, rotate the secret (the previous one signs on for a while)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.models import Institution, WebhookEndpoint
from engine.workflow.errors import NotFound, ValidationFailed
from engine.workflow.journal import record_audit


def _institution(session: Session, code: str) -> Institution:
    institution = session.scalar(sa.select(Institution).where(Institution.code == code))
    if institution is None:
        raise NotFound(f"No institution {code}.")
    return institution


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def set_endpoint(session: Session, now: datetime, code: str, url: str, actor: str) -> str | None:
    """Point the institution's webhook at `url`; return the secret if one was made now (shown once)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500:
        raise ValidationFailed({"url": ["An http:// or https:// URL of at most 500 characters."]})
    institution = _institution(session, code)
    endpoint = session.scalar(sa.select(WebhookEndpoint).where(WebhookEndpoint.institution_id == institution.id))
    created = None
    if endpoint is None:
        created = new_secret()
        endpoint = WebhookEndpoint(institution_id=institution.id, secret=created, url=url, active=True, updated_at=now)
        session.add(endpoint)
    endpoint.url, endpoint.active, endpoint.updated_at = url, True, now
    record_audit(session, now, actor, "webhook_set", detail={"institution": code, "url": url})
    return created


def rotate_secret(session: Session, now: datetime, code: str, grace: timedelta, actor: str) -> str:
    """Make a new secret; the previous one still signs until `now + grace`. Return the new secret."""
    institution = _institution(session, code)
    endpoint = session.scalar(sa.select(WebhookEndpoint).where(WebhookEndpoint.institution_id == institution.id))
    if endpoint is None:
        raise NotFound(f"Institution {code} has no webhook endpoint; set its URL first.")
    secret = new_secret()
    endpoint.previous_secret, endpoint.previous_secret_until = endpoint.secret, now + grace
    endpoint.secret, endpoint.updated_at = secret, now
    record_audit(session, now, actor, "webhook_secret_rotated", detail={"institution": code})
    return secret
