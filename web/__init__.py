"""The Flask application factory. Nothing is built at import time."""

from __future__ import annotations

import logging
import os
from typing import Any

import sqlalchemy as sa
from flask import Flask

from config import Config, ConfigError, config_for
from engine.platform.bootstrap import build_engine
from engine.platform.personal_data import install_from_settings, unreadable
from engine.workflow.incidents import RetryPolicy
from engine.workflow.runtime import Engine


def create_app(test_config: dict[str, Any] | None = None, engine: Engine | None = None) -> Flask:
    """Create and configure the app; `engine` lets tests share a controlled-clock engine."""
    app = Flask(__name__, instance_relative_config=True)
    config_class: type[Config] = config_for("testing" if test_config and test_config.get("TESTING") else None)
    config_class.validate()
    app.config.from_object(config_class)
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{os.path.join(app.instance_path, 'loans.db')}"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # A line per sweep, per migration check or per Spiff task state change is noise.
    for noisy in ("apscheduler", "alembic", "spiff"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    install_from_settings(app.config["PERSONAL_DATA_KEYS"], app.config["PERSONAL_DATA_HASH_KEY"],
                          config_class.personal_data_fallback_secret())
    app.extensions["engine"] = engine or build_engine(
        app.config["DATABASE_URL"], script_line_budget=app.config["SCRIPT_LINE_BUDGET"],
        retry_policy=RetryPolicy(app.config["INCIDENT_RETRIES"], app.config["INCIDENT_BACKOFF_SECONDS"]),
        script_limits=config_class.script_limits(), live_cache_size=app.config["LIVE_WORKFLOW_CACHE_SIZE"],
    )

    from web import (
        admin,
        admin_deliveries,
        api,
        assets,
        auth,
        cli,
        enterprise,
        enterprise_data,
        guards,
        i18n,
        inbox,
        labels,
        notifications_view,
        objections,
        process_view,
        registration,
        reports,
        security_headers,
        supervision,
        tasks,
        template_cache,
        views,
    )

    template_cache.init_app(app)
    guards.init_app(app)
    security_headers.init_app(app)
    i18n.init_app(app)
    assets.init_app(app)
    labels.init_app(app)
    auth.init_app(app)
    registration.init_app(app)
    views.init_app(app)
    inbox.init_app(app)
    enterprise.init_app(app)
    enterprise_data.init_app(app)
    objections.init_app(app)
    tasks.init_app(app)
    process_view.init_app(app)
    supervision.init_app(app)
    reports.init_app(app)
    admin.init_app(app)
    admin_deliveries.init_app(app)
    notifications_view.init_app(app)
    api.init_app(app)
    cli.init_app(app)

    app.config["REFUSES_DEMO_ACCOUNTS"] = config_class.refuses_demo_accounts()
    if config_class.refuses_demo_accounts():
        from engine.platform.demo import demo_accounts_present

        # An empty database (before `init-db`) has no accounts at all: nothing to refuse yet.
        if _has_accounts_table(app.extensions["engine"]) and demo_accounts_present(app.extensions["engine"]):
            raise ConfigError("Demo accounts exist in this database; production refuses to start with them")
        if _has_accounts_table(app.extensions["engine"]):
            with app.extensions["engine"].reading() as session:
                closed = unreadable(session)
            if closed:
                raise ConfigError("Personal data no key of PERSONAL_DATA_KEYS opens: " + ", ".join(closed))

    if app.config["SCHEDULER_ENABLED"]:
        from engine.platform.scheduler import start_background
        from notifications.settings import delivery_settings
        from web.reports import report_targets

        app.extensions["scheduler"] = start_background(
            app.extensions["engine"], app.config["SCHEDULER_SWEEP_SECONDS"], app.config["TIMER_BATCH_SIZE"],
            delivery_settings(app.config), report_targets(app.config),
        )
    return app


def _has_accounts_table(engine: Engine) -> bool:
    with engine.reading() as session:
        return sa.inspect(session.connection()).has_table("user_account")


def get_engine(app: Flask) -> Engine:
    return app.extensions["engine"]
