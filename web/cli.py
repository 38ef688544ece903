"""Command-line entry points: `flask --app web <command>`."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from engine.platform.access import create_institution_key, revoke_credential
from engine.platform.bootstrap import prepare
from engine.platform.demo import load_demo_data
from engine.platform.housekeeping import purge_expired
from engine.platform.migrate import upgrade
from engine.workflow import calendar_service
from engine.workflow.definitions import bundle_beside, deploy
from engine.workflow.errors import EngineError, ModelError, NotFound
from engine.workflow.incidents import incident_summary, open_incident_summaries, retry_incident
from engine.workflow.runtime import Engine
from engine.workflow.timers import sweep_due_timers
from engine.workflow.working_days import SHANGHAI, CalendarError


def _engine() -> Engine:
    return current_app.extensions["engine"]


def _ready(seed_models: bool = False) -> Engine:
    """Migrate the schema and seed the calendar (idempotent and quick).

    Only `init-db` seeds the shipped models, and never over a version an author deployed.
    """
    upgrade(current_app.config["DATABASE_URL"])
    engine = _engine()
    prepare(engine, seed_models=seed_models)
    return engine


@click.command("init-db")
@with_appcontext
@click.option("--demo/--no-demo", default=None, help="Load demo data (default: LOAD_DEMO_DATA).")
def init_db(demo: bool | None) -> None:
    """Create or upgrade the database, seed the calendar, deploy the shipped models not yet there."""
    if demo and current_app.config.get("REFUSES_DEMO_ACCOUNTS"):
        raise click.ClickException("Demo data (with its well-known passwords) is refused in production.")
    engine = _ready(seed_models=True)
    if demo if demo is not None else current_app.config["LOAD_DEMO_DATA"]:
        loaded = load_demo_data(engine)
        click.echo("Demo data loaded." if loaded else "Demo data already present.")
    click.echo(f"Database ready: {current_app.config['DATABASE_URL']}")


@click.command("deadline")
@with_appcontext
@click.option("--from", "start", required=True, help="Start instant, ISO-8601 with offset.")
@click.option("--working-days", required=True, type=click.IntRange(min=0))
def deadline(start: str, working_days: int) -> None:
    """Print the deadline N working days after an instant (Civil Code counting)."""
    try:
        instant = datetime.fromisoformat(start)
    except ValueError:
        raise click.BadParameter(f"{start!r} is not an ISO-8601 instant", param_hint="--from") from None
    if instant.tzinfo is None:
        raise click.BadParameter("give an offset, e.g. 2026-09-30T10:00:00+08:00", param_hint="--from")
    engine = _ready()
    with engine.transaction() as session:
        calendar = engine.calendars.get(session)
    result = calendar.add_working_days(instant, working_days)
    click.echo(result.due.isoformat())
    last_day = (result.due.astimezone(SHANGHAI) - timedelta(days=1)).date()
    click.echo(f"= {last_day.isoformat()} 24:00 Asia/Shanghai")
    if result.provisional:
        click.echo("PROVISIONAL: the period runs into a year without an official holiday schedule; "
                   "it will be recomputed when that schedule is loaded.")


@click.group("calendar", cls=AppGroup)
def calendar_group() -> None:
    """The working-day calendar."""


@calendar_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "actor", default="admin", show_default=True, help="Who loads it (for the audit trail).")
@click.option("--partial", is_flag=True,
              help="Accept a file that does not cover a whole year (tests, demonstrations); the year's "
                   "stored days are still replaced by the file's.")
def calendar_load(file: Path, actor: str, partial: bool) -> None:
    """Load a year's official schedule (CSV: date,kind,name) and recompute provisional deadlines."""
    engine = _ready()
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException("The file is not UTF-8 text.") from None

    def progress(done: int, total: int) -> None:
        click.echo(f"  recomputed {done}/{total} instances", err=True)

    try:
        result = calendar_service.load_official_schedule(engine, text, file.name, actor, progress,
                                                         partial=partial)
    except CalendarError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Loaded {result.rules} days for {result.year}; recomputed {result.instances_recomputed} "
               f"instances, {result.timers_moved} timers moved.")


@click.command("deploy")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--by", "actor", default="author", show_default=True, help="Who deploys it (for the record).")
@click.option("--reason", default=None, help="Why (kept with the version).")
def deploy_command(file: Path, actor: str, reason: str | None) -> None:
    """Deploy a BPMN file as the next version of its process; running instances keep theirs.

    The forms its user tasks name and the decision tables its business rule tasks call are read
    from `forms/<key>.form.json` and `decisions/<id>.dmn` beside the file; any not found there are
    carried over from the latest version.
    """
    engine = _ready()
    try:
        xml = file.read_text(encoding="utf-8")
        forms, decisions = bundle_beside(file.parent, xml)
        with engine.transaction() as session:
            definition = deploy(session, xml, actor, engine.clock, forms=forms, decisions=decisions,
                                reason=reason, operations=engine.operation_names())
            key, version = definition.key, definition.version
    except (ModelError, UnicodeDecodeError) as err:
        raise click.ClickException(f"{file.name}: {err}") from None
    click.echo(f"Deployed {key} version {version} "
               f"({len(forms)} forms, {len(decisions)} decision tables from {file.parent}).")


@click.group("api-key", cls=AppGroup)
def api_key_group() -> None:
    """API keys of institutions' systems (银行直连)."""


@api_key_group.command("create")
@click.argument("institution_code")
@click.option("--name", required=True, help="What the key is for, e.g. 'core banking, 2026'.")
@click.option("--by", "actor", default="admin", show_default=True)
def api_key_create(institution_code: str, name: str, actor: str) -> None:
    """Create a key for an institution; it is shown once, only its hash is kept."""
    engine = _ready()
    try:
        with engine.transaction() as session:
            secret, credential = create_institution_key(session, engine.clock.now(), institution_code, name, actor)
            prefix = credential.prefix
    except EngineError as err:
        raise click.ClickException(str(err)) from None
    click.echo(secret)
    click.echo(f"Key {prefix}… created. Store it now: it cannot be shown again.", err=True)


@api_key_group.command("revoke")
@click.argument("prefix")
def api_key_revoke(prefix: str) -> None:
    """Revoke the key that starts with PREFIX (the first 12 characters)."""
    engine = _ready()
    with engine.transaction() as session:
        count = revoke_credential(session, engine.clock.now(), prefix)
    if not count:
        raise click.ClickException(f"No live key starts with {prefix}.")
    click.echo(f"Revoked {count} key(s).")


@click.command("sweep")
@with_appcontext
def sweep() -> None:
    """Fire every due timer once, now."""
    result = sweep_due_timers(_ready(), current_app.config["TIMER_BATCH_SIZE"])
    click.echo(f"Fired timers: {result.claimed} on {result.instances} instances; failed: {result.failed}")


@click.command("purge")
@with_appcontext
def purge() -> None:
    """Forget expired idempotency records, old sign-in failures and long-expired user tokens (also hourly)."""
    purged = purge_expired(_ready())
    click.echo(f"Purged: {purged.idempotency_records} idempotency records, {purged.login_failures} sign-in failures, "
               f"{purged.user_tokens} user tokens")


@click.command("worker")
@with_appcontext
def worker() -> None:
    """Run the timer sweep as this process's only job (any number may run), in a watched child."""
    from config import config_for
    from engine.platform.worker import WorkerSettings, supervise
    from engine.workflow.encryption import installed as installed_keyring
    from engine.workflow.incidents import RetryPolicy
    from notifications.settings import delivery_settings
    from web.reports import report_targets

    _ready()
    config = current_app.config
    settings = WorkerSettings(
        database_url=config["DATABASE_URL"], sweep_seconds=config["SCHEDULER_SWEEP_SECONDS"],
        batch_size=config["TIMER_BATCH_SIZE"], script_line_budget=config["SCRIPT_LINE_BUDGET"],
        script_limits=config_for().script_limits(),
        retry_policy=RetryPolicy(config["INCIDENT_RETRIES"], config["INCIDENT_BACKOFF_SECONDS"]),
        case_timeout_seconds=config["WORKER_CASE_TIMEOUT_SECONDS"],
        live_cache_size=config["LIVE_WORKFLOW_CACHE_SIZE"], delivery=delivery_settings(config),
        keyring=installed_keyring(), report_targets=report_targets(config))
    click.echo(f"Worker sweeping every {settings.sweep_seconds} s (a case running over "
               f"{settings.case_timeout_seconds} s restarts the sweep process without it); Ctrl-C stops it.")
    try:
        supervise(settings)
    except (KeyboardInterrupt, SystemExit):
        pass
    click.echo("Worker stopped.")


@click.group("incidents", cls=AppGroup)
def incidents_group() -> None:
    """Cases parked because their timers failed (a broken or hostile model)."""


def _beijing(instant: datetime) -> str:
    return f"{instant.astimezone(SHANGHAI):%Y-%m-%d %H:%M} Asia/Shanghai"


@incidents_group.command("list")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(min=1, max=1000))
def incidents_list(limit: int) -> None:
    """List the open incidents: the case, the failing element, the error and the next automatic retry."""
    engine = _ready()
    with engine.reading() as session:
        incidents = open_incident_summaries(session, limit)
    if not incidents:
        click.echo("No open incidents.")
    for incident in incidents:
        retry = _beijing(incident.next_retry_at) if incident.next_retry_at else "waiting for an admin"
        click.echo(f"#{incident.id} {incident.business_key} ({incident.process_key} v{incident.process_version}) "
                   f"at {incident.activity or 'an unknown element'}: {incident.failures} failure(s), "
                   f"next automatic retry: {retry}")
        click.echo(f"    {incident.error_type}: " + incident.message.replace("\n", "\n    "))


@incidents_group.command("retry")
@click.argument("incident_id", type=click.IntRange(min=1, max=2**31 - 1))
@click.option("--by", "actor", default="admin", show_default=True, help="Who retries it (for the record).")
def incidents_retry(incident_id: int, actor: str) -> None:
    """Fire the timers of an incident's case again now; fail if they fail again."""
    engine = _ready()
    try:
        resolved = retry_incident(engine, incident_id, actor)
    except NotFound:
        raise click.ClickException(f"No open incident #{incident_id}.") from None
    if resolved:
        click.echo(f"Incident #{incident_id} resolved: the case's timers fired.")
        return
    with engine.reading() as session:
        incident = incident_summary(session, incident_id)
    failures = incident.failures if incident else "?"
    message = f"{incident.error_type}: {incident.message}" if incident else ""
    raise click.ClickException(f"Incident #{incident_id} failed again ({failures} failures). {message}")


def init_app(app: Flask) -> None:
    from web.cli_figures import figures_group
    from web.cli_migration import instances_group
    from web.cli_notifications import COMMANDS as NOTIFICATION_COMMANDS
    from web.cli_personal_data import rotate_personal_data

    for command in NOTIFICATION_COMMANDS:
        app.cli.add_command(command)
    for command in (init_db, deadline, calendar_group, deploy_command, api_key_group, sweep, purge, worker,
                    incidents_group, instances_group, figures_group, rotate_personal_data):
        app.cli.add_command(command)
