"""`flask rotate-personal-data`: re-encrypt personal data (ID and phone numbers, names, e-mail addresses) with the
newest key (docs/OPERATIONS.md)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from engine.platform.personal_data import RotationProgress, keys_in_use, remaining, rotate
from engine.workflow.encryption import installed


def _show(step: RotationProgress) -> None:
    click.echo(f"{step.column}: {step.done:,} rewritten, {step.remaining:,} to go")


@click.command("rotate-personal-data")
@with_appcontext
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 10_000),
              help="Rows per transaction.")
@click.option("--check", is_flag=True, help="Only show which keys the data are under and what is left to do.")
def rotate_personal_data(batch_size: int, check: bool) -> None:
    """Re-encrypt all personal data with the first key of PERSONAL_DATA_KEYS, batch by batch (resumable)."""
    engine = current_app.extensions["engine"]
    keyring = installed()
    click.echo(f"Encrypting with key {keyring.current_id}; keys held: {', '.join(keyring.key_ids)}; "
               f"lookup hashes with key {keyring.hash_id}.")
    with engine.reading() as session:
        in_use, left = keys_in_use(session), remaining(session)
    for column, keys in in_use.items():
        click.echo(f"{column}: keys in use {', '.join(sorted(keys)) or '-'}; {left[column]:,} rows to rewrite")
    if check:
        return
    rewritten = rotate(engine, batch_size, _show)
    with engine.reading() as session:
        in_use = keys_in_use(session)
    old = sorted(set().union(*in_use.values()) - {keyring.current_id})
    click.echo(f"Done: {rewritten:,} rows rewritten. "
               + (f"Still in use besides the newest key: {', '.join(old)}." if old else
                  "Every value is under the newest key; older keys can be removed from PERSONAL_DATA_KEYS."))
