"""Command-line entry points for moving running cases to another version of their process."""

from __future__ import annotations

from datetime import datetime

import click
from flask.cli import AppGroup

from engine.workflow import migration
from engine.workflow.errors import NotFound, ValidationFailed
from engine.workflow.runtime import Engine
from engine.workflow.working_days import SHANGHAI

INSTANCE_ID = click.IntRange(min=1, max=2**31 - 1)
VERSION = click.IntRange(min=1, max=2**31 - 1)


def _engine() -> Engine:
    from web.cli import _ready

    return _ready()


def _beijing(instant: datetime | None) -> str:
    return f"{instant.astimezone(SHANGHAI):%Y-%m-%d %H:%M}" if instant is not None else "-"


def _timer_line(timer: migration.TimerOutcome) -> str:
    what = "re-evaluated" if timer.re_evaluated else "kept"
    due = f"due {_beijing(timer.due_before)} -> {_beijing(timer.due_after)} Asia/Shanghai"
    return f"  timer {timer.bpmn_id}: {what}, {due}" + (", fires at once" if timer.due_now else "")


@click.group("instances", cls=AppGroup)
def instances_group() -> None:
    """Process instances: move running cases to another version of their process."""


@instances_group.command("migrate-preview")
@click.argument("instance_id", type=INSTANCE_ID)
@click.option("--to", "to_version", type=VERSION, default=None, help="Target version (default: the latest).")
def migrate_preview(instance_id: int, to_version: int | None) -> None:
    """Show what moving a case to another version would change, or why it cannot move."""
    try:
        preview = migration.preview(_engine(), instance_id, to_version)
    except NotFound:
        raise click.ClickException(f"No process instance #{instance_id}.") from None
    target = f"v{preview.to_version}" if preview.to_version is not None else "?"
    head = f"Instance #{preview.instance_id} ({preview.business_key}): {preview.process_key} " \
           f"v{preview.from_version} -> {target}"
    if not preview.possible:
        click.echo(f"{head}: not possible ({preview.reason_code}): {preview.reason}")
    else:
        click.echo(f"{head}: possible")
    for task in preview.tasks:
        if task.kind != "timer":
            click.echo(f"  {task.kind.replace('_', ' ')} {task.bpmn_id} ({task.state}): {task.outcome}")
    for timer in preview.timers:
        click.echo(_timer_line(timer))
    if preview.added_elements:
        click.echo(f"  added elements: {', '.join(preview.added_elements)}")
    if preview.removed_elements:
        click.echo(f"  removed elements: {', '.join(preview.removed_elements)}")


@instances_group.command("migrate")
@click.argument("instance_id", type=INSTANCE_ID)
@click.option("--to", "to_version", type=VERSION, required=True, help="Target version.")
@click.option("--reason", required=True, help="Why the case is moved (kept in the audit trail).")
@click.option("--by", "actor", default="admin", show_default=True, help="Who moves it (for the record).")
def migrate(instance_id: int, to_version: int, reason: str, actor: str) -> None:
    """Move a running case to another version of its process."""
    try:
        result = migration.migrate(_engine(), instance_id, to_version, actor, reason)
    except NotFound:
        raise click.ClickException(f"No process instance #{instance_id}.") from None
    except migration.MigrationRefused as refusal:
        raise click.ClickException(f"Instance #{instance_id} not migrated ({refusal.code}): {refusal}") from None
    except ValidationFailed as error:
        raise click.ClickException(" ".join(message for messages in error.errors.values()
                                            for message in messages)) from None
    reset = ", ".join(result.reset_tasks) or "nothing"
    click.echo(f"Instance #{result.instance_id} ({result.business_key}): migrated from {result.process_key} "
               f"v{result.from_version} to v{result.to_version}; reset: {reset}.")
    for timer in result.timers:
        click.echo(_timer_line(timer))


_OUTCOMES = {"migrated": "migrated", "would_migrate": "would be migrated", "refused": "refused", "failed": "failed"}


@instances_group.command("migrate-all")
@click.argument("key")
@click.option("--from", "from_version", type=VERSION, required=True, help="Move the running cases of this version.")
@click.option("--to", "to_version", type=VERSION, required=True, help="Target version.")
@click.option("--reason", required=True, help="Why the cases are moved (kept in each case's audit trail).")
@click.option("--dry-run", is_flag=True, help="Only say what would happen to each case; change nothing.")
@click.option("--by", "actor", default="admin", show_default=True, help="Who moves them (for the record).")
@click.pass_context
def migrate_all(ctx: click.Context, key: str, from_version: int, to_version: int, reason: str, dry_run: bool,
                actor: str) -> None:
    """Move every running case of KEY version --from to version --to, one transaction per case."""
    try:
        bulk = migration.migrate_all(_engine(), key, from_version, to_version, actor, reason, dry_run)
    except (NotFound, migration.MigrationRefused) as error:
        raise click.ClickException(str(error)) from None
    except ValidationFailed as error:
        raise click.ClickException(" ".join(message for messages in error.errors.values()
                                            for message in messages)) from None
    for case in bulk.cases:
        why = f" ({case.code}): {case.message}" if case.code else ""
        click.echo(f"#{case.instance_id} {case.business_key}: {_OUTCOMES[case.outcome]}{why}")
    moved = bulk.count("would_migrate" if dry_run else "migrated")
    click.echo(f"{len(bulk.cases)} running case(s) of {key} v{from_version}: {moved} "
               f"{'would be migrated' if dry_run else 'migrated'} to v{to_version}, {bulk.count('refused')} "
               f"refused, {bulk.count('failed')} failed." + (" Nothing was changed (dry run)." if dry_run else ""))
    if bulk.count("refused") or bulk.count("failed"):
        ctx.exit(1)
