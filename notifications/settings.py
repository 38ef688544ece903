"""What the delivery worker needs to know, taken from config.py (picklable: the worker's child gets it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SmtpSettings:
    host: str = ""  # empty: no e-mail is sent (and no e-mail deliveries are made)
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    sender: str = "noreply@xinyidai.invalid"
    timeout_seconds: float = 10.0

    @property
    def enabled(self) -> bool:
        return bool(self.host)


@dataclass(frozen=True)
class DeliverySettings:
    max_attempts: int = 8  # then the delivery is a dead letter
    backoff_seconds: float = 30.0  # before the second attempt; doubling after each failure
    lease_seconds: float = 60.0  # a claimed delivery not marked sent by then is sent again
    batch_size: int = 50
    poll_seconds: int = 5
    webhook_timeout_seconds: float = 5.0
    reminder_digest_minutes: int = 60  # at most one reminder e-mail per person within this window
    secret_grace_hours: int = 24  # a rotated-out webhook secret still signs this long
    smtp: SmtpSettings = SmtpSettings()

    def backoff_after(self, attempts: int) -> float:
        """Seconds to wait after the `attempts`-th failed attempt."""
        return self.backoff_seconds * 2 ** max(attempts - 1, 0)


def delivery_settings(config: Mapping[str, Any]) -> DeliverySettings:
    """The settings from a config mapping (Flask's app.config; see config.py)."""
    return DeliverySettings(
        max_attempts=config["DELIVERY_MAX_ATTEMPTS"], backoff_seconds=config["DELIVERY_BACKOFF_SECONDS"],
        lease_seconds=config["DELIVERY_LEASE_SECONDS"], poll_seconds=config["DELIVERY_POLL_SECONDS"],
        webhook_timeout_seconds=config["WEBHOOK_TIMEOUT_SECONDS"],
        reminder_digest_minutes=config["REMINDER_DIGEST_MINUTES"],
        secret_grace_hours=config["WEBHOOK_SECRET_GRACE_HOURS"],
        smtp=SmtpSettings(host=config["SMTP_HOST"], port=config["SMTP_PORT"], user=config["SMTP_USER"],
                          password=config["SMTP_PASSWORD"], starttls=config["SMTP_STARTTLS"],
                          sender=config["MAIL_FROM"]))
