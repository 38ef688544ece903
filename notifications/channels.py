"""The channels that leave the process: e-mail over SMTP and webhooks. Each raises DeliveryFailed
unless the other side accepted the message; each carries the delivery's idempotency key."""

from __future__ import annotations

import json
import smtplib
import time
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from notifications.settings import SmtpSettings
from notifications.signing import signature_header


class DeliveryFailed(Exception):
    """The channel did not accept the message; it is tried again later."""


def build_email(smtp: SmtpSettings, to: str, subject: str, body: str, key: str) -> EmailMessage:
    message = EmailMessage()  # utf-8: Chinese subjects are RFC 2047-encoded, bodies base64 or 8bit
    message["From"] = smtp.sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = f"<{key}@xinyidai.notifications>"
    message["X-Idempotency-Key"] = key
    message.set_content(body, charset="utf-8")
    return message


def send_email(smtp: SmtpSettings, message: EmailMessage) -> None:
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.user:
                client.login(smtp.user, smtp.password)
            refused = client.send_message(message)
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(f"SMTP: {type(error).__name__}: {error}") from error
    if refused:
        raise DeliveryFailed(f"SMTP refused {sorted(refused)}")


def webhook_request(url: str, secrets: list[str], key: str, body: dict[str, Any],
                    timestamp: str | None = None) -> urllib.request.Request:
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()
    timestamp = timestamp or str(int(time.time()))
    return urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "X-Xyd-Timestamp": timestamp,
        "X-Xyd-Signature": signature_header(secrets, timestamp, data), "X-Idempotency-Key": key,
        "User-Agent": "xinyidai-webhooks/1",
    })


def send_webhook(url: str, secrets: list[str], key: str, body: dict[str, Any], timeout: float) -> None:
    """POST the signed body; a 2xx answer means delivered, anything else (or no answer in time) fails."""
    request = webhook_request(url, secrets, key, body)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - admins set the URL
            status = response.status
    except urllib.error.HTTPError as error:
        raise DeliveryFailed(f"HTTP {error.code} from {url}") from error
    except (TimeoutError, urllib.error.URLError, OSError) as error:
        raise DeliveryFailed(f"{type(error).__name__}: {error}") from error
    if not 200 <= status < 300:
        raise DeliveryFailed(f"HTTP {status} from {url}")
