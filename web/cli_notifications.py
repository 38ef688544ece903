"""Command-line entry points of delivery: dead letters, institutions' webhook endpoints."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from engine.workflow.errors import NotFound, ValidationFailed
from engine.workflow.runtime import Engine
from notifications.delivery import dead_letters, deliver_due, retry_dead_letter
from notifications.endpoints import rotate_secret, set_endpoint
from notifications.settings import delivery_settings


def _engine() -> Engine:
    from web.cli import _ready

    return _ready()


@click.group("deliveries", cls=AppGroup)
def deliveries_group() -> None:
    """Outbox deliveries: dead letters (kept failing) and their retry."""


@deliveries_group.command("list")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=1, max=1000))
def deliveries_list(limit: int) -> None:
    """List the dead letters: recipient, channel, topic, attempts and the last error."""
    with _engine().reading() as session:
        rows = dead_letters(session, limit)
    if not rows:
        click.echo("No dead letters.")
    for row in rows:
        click.echo(f"#{row.id} {row.topic} via {row.channel} to {row.recipient}: {row.attempts} attempt(s)")
        click.echo(f"    {row.last_error}")


@deliveries_group.command("retry")
@click.argument("delivery_id", type=click.IntRange(min=1, max=2**31 - 1))
@click.option("--by", "actor", default="admin", show_default=True, help="Who retries it (for the record).")
def deliveries_retry(delivery_id: int, actor: str) -> None:
    """Give a dead letter a fresh round of attempts and try it now."""
    engine = _engine()
    try:
        retry_dead_letter(engine, delivery_id, actor)
    except NotFound:
        raise click.ClickException(f"No dead letter #{delivery_id}.") from None
    run = deliver_due(engine, delivery_settings(current_app.config))
    click.echo(f"Delivery #{delivery_id} queued again; this run sent {run.sent}, failed {run.failed}.")


@deliveries_group.command("run")
def deliveries_run() -> None:
    """Fan out due outbox messages and send due deliveries once, now."""
    run = deliver_due(_engine(), delivery_settings(current_app.config))
    click.echo(f"Messages: {run.messages}; sent: {run.sent}; failed: {run.failed}; dead letters: {run.dead}")


@click.group("webhook", cls=AppGroup)
def webhook_group() -> None:
    """Institutions' webhook endpoints (the push of new applications and of every change)."""


@webhook_group.command("set")
@click.argument("institution_code")
@click.argument("url")
@click.option("--by", "actor", default="admin", show_default=True)
def webhook_set(institution_code: str, url: str, actor: str) -> None:
    """Point an institution's webhook at URL (prints the signing secret when one is made)."""
    engine = _engine()
    try:
        with engine.transaction() as session:
            secret = set_endpoint(session, engine.clock.now(), institution_code, url, actor)
    except (NotFound, ValidationFailed) as error:
        raise click.ClickException(str(error)) from None
    click.echo(secret if secret else f"Webhook of {institution_code} now posts to {url}.")


@webhook_group.command("rotate")
@click.argument("institution_code")
@click.option("--by", "actor", default="admin", show_default=True)
def webhook_rotate(institution_code: str, actor: str) -> None:
    """Make a new signing secret and print it; the previous one still signs during the grace period."""
    engine = _engine()
    grace = timedelta(hours=current_app.config["WEBHOOK_SECRET_GRACE_HOURS"])
    try:
        with engine.transaction() as session:
            secret = rotate_secret(session, engine.clock.now(), institution_code, grace, actor)
    except NotFound as error:
        raise click.ClickException(str(error)) from None
    click.echo(secret)


@click.command("user-email")
@with_appcontext
@click.argument("username")
@click.argument("address", required=False, default="")
def user_email(username: str, address: str) -> None:
    """Set (or, without ADDRESS, clear) the e-mail address a user's notifications go to."""
    import re

    import sqlalchemy as sa

    from engine.models import UserAccount

    if address and (len(address) > 254 or not re.fullmatch(r"[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]+", address)):
        raise click.ClickException(f"Not an e-mail address: {address}")
    engine = _engine()
    with engine.transaction() as session:
        user = session.scalar(sa.select(UserAccount).where(UserAccount.username == username))
        if user is None:
            raise click.ClickException(f"No user {username}.")
        user.email = address or None
    click.echo(f"{username}: " + (f"notifications also go to {address}" if address else "no e-mail"))


COMMANDS = (deliveries_group, webhook_group, user_email)
