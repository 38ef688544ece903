"""A user's in-app notifications: the unread count, the list, marking read. Only ever their own."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from engine.models import Notification


def unread_count(session: Session, user_id: int) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))) or 0


def latest(session: Session, user_id: int, limit: int = 100) -> list[Notification]:
    return list(session.scalars(sa.select(Notification).where(Notification.user_id == user_id)
                                .order_by(Notification.id.desc()).limit(limit)))


def mark_read(session: Session, now: datetime, user_id: int, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read (or all of them); another user's is never touched."""
    query = sa.update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    return session.execute(query.values(read_at=now)).rowcount or 0
