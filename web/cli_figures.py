"""`flask figures check|rebuild`: the board's kept figures against a scan of the tables, and rebuilt."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from engine.loans import metrics
from engine.loans.figures_rebuild import rebuild
from engine.workflow.runtime import Engine


def _engine() -> Engine:
    from web.cli import _engine as app_engine

    return app_engine()


@click.group("figures", cls=AppGroup)
def figures_group() -> None:
    """The supervisors' figures kept per institution and Beijing day (engine/loans/figures.py)."""


@figures_group.command("check")
@click.option("--weeks", default=12, show_default=True, type=click.IntRange(min=1, max=520))
def figures_check(weeks: int) -> None:
    """Compare the board from the kept figures with the board from a scan of the tables; fail on a difference."""
    engine = _engine()
    with engine.reading() as session:
        now = engine.clock.now()
        kept, scanned = metrics.board(session, now, weeks), metrics.board(session, now, weeks, scan=True)
    differences = [name for name, a, b in zip(("today", "institutions", "weeks"), kept, scanned, strict=True)
                   if a != b]
    if differences:
        raise click.ClickException("The kept figures differ from a scan in: " + ", ".join(differences)
                                   + ". `flask figures rebuild` recomputes them.")
    click.echo(f"The kept figures equal a scan ({len(kept[1])} institutions, {weeks} weeks).")


@figures_group.command("rebuild")
def figures_rebuild() -> None:
    """Compute the kept figures again from the applications and the breach ledger (after a bulk load)."""
    with _engine().transaction() as session:
        rebuild(session.connection())
    click.echo("The kept figures were rebuilt.")
