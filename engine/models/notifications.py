"""Tables of delivery: one row per recipient and channel of an outbox message, in-app
notifications, and institutions' webhook endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from engine.workflow.models.base import Base, pk


class Delivery(Base):
    """One outbox message for one recipient over one channel, sent at least once.

    The idempotency key is derived from the message's key, the recipient and the channel and is
    unique, so fanning a message out again after a crash never makes a second row; receivers
    deduplicate on it. `lease_until` marks a claimed delivery: one not sent by then is sent again.
    """

    __tablename__ = "delivery"
    __table_args__ = (sa.Index("ix_delivery_status_next", "status", "next_attempt_at"),
                      sa.Index("ix_delivery_recipient", "channel", "recipient_kind", "recipient_id"))

    id: Mapped[int] = pk()
    outbox_id: Mapped[int] = mapped_column(sa.ForeignKey("outbox.id"), index=True)
    topic: Mapped[str] = mapped_column(sa.String(100))
    channel: Mapped[str] = mapped_column(sa.String(20))  # in_app | email | webhook
    recipient_kind: Mapped[str] = mapped_column(sa.String(20))  # user | institution
    recipient_id: Mapped[int]
    address: Mapped[str | None] = mapped_column(sa.String(500))  # e-mail address or webhook URL, as resolved
    idempotency_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # what the text or the webhook body says
    status: Mapped[str] = mapped_column(sa.String(20))  # pending | sending | sent | dead
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class Notification(Base):
    """An in-app notification: the topic and its parameters; the text is rendered in the reader's language."""

    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_user_read", "user_id", "read_at"),)

    id: Mapped[int] = pk()
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user_account.id"))
    delivery_id: Mapped[int] = mapped_column(sa.ForeignKey("delivery.id"), unique=True)
    topic: Mapped[str] = mapped_column(sa.String(100))
    params: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]


class WebhookEndpoint(Base):
    """Where an institution's system receives pushes, and the secrets that sign them.

    While a secret is rotated the previous one still signs until `previous_secret_until`.
    """

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = pk()
    institution_id: Mapped[int] = mapped_column(sa.ForeignKey("institution.id"), unique=True)
    url: Mapped[str] = mapped_column(sa.String(500))
    secret: Mapped[str] = mapped_column(sa.String(100))
    previous_secret: Mapped[str | None] = mapped_column(sa.String(100))
    previous_secret_until: Mapped[datetime | None]
    active: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime]
