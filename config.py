"""Configuration: one class per environment, every value overridable from the environment.

Values are checked at start-up (`Config.validate`) so that a bad setting fails with a clear
message instead of a stack trace in the middle of a request.
"""

from __future__ import annotations

import base64
import os
import secrets


class ConfigError(ValueError):
    """A configuration value is missing or malformed."""


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def new_credit_targets(text: str) -> dict[int, int]:
    """"2024:1000,2025:1200" as {2024: 1000, 2025: 1200} (亿元 per year)."""
    targets: dict[int, int] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        year, _, amount = pair.partition(":")
        if not (year.strip().isascii() and year.strip().isdigit() and len(year.strip()) == 4
                and amount.strip().isascii() and amount.strip().isdigit()):
            raise ConfigError(f"NEW_CREDIT_TARGETS_YI must be year:亿元 pairs such as 2026:1500, got {pair!r}")
        targets[int(year)] = int(amount)
    return targets


def _check_personal_data_keys(keys: str, hash_key: str) -> None:
    """Each key URL-safe base64 of 32 bytes, no key listed twice, the hash key apart; both set or neither."""
    if bool(keys.strip()) != bool(hash_key.strip()):
        raise ConfigError("PERSONAL_DATA_KEYS and PERSONAL_DATA_HASH_KEY must be set together")
    named = [(f"PERSONAL_DATA_KEYS[{index}]", part.strip())
             for index, part in enumerate(filter(None, (piece.strip() for piece in keys.split(","))))]
    decoded = []
    for name, text in [*named, *([("PERSONAL_DATA_HASH_KEY", hash_key.strip())] if hash_key.strip() else [])]:
        try:
            key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except ValueError:
            key = b""
        if len(key) != 32:
            raise ConfigError(f"{name} must be URL-safe base64 of 32 random bytes (docs/OPERATIONS.md: making a key)")
        decoded.append(key)
    if len(set(decoded)) != len(decoded):
        raise ConfigError("PERSONAL_DATA_KEYS lists a key twice, or PERSONAL_DATA_HASH_KEY repeats an encryption key")


class Config:
    """Settings shared by every environment."""

    # The web app's secret; generated per process when absent (sessions then end on restart).
    SECRET_KEY = os.environ.get("SECRET_KEY") or secrets.token_hex(32)
    # None means: SQLite file in the Flask instance folder.
    DATABASE_URL = os.environ.get("DATABASE_URL") or None
    # Run the timer sweep inside the web process (embedded default).
    SCHEDULER_ENABLED = _env_bool("SCHEDULER_ENABLED", False)
    SCHEDULER_SWEEP_SECONDS = _env_int("SCHEDULER_SWEEP_SECONDS", 15)
    # How many due timers one sweep claims at a time.
    TIMER_BATCH_SIZE = _env_int("TIMER_BATCH_SIZE", 100)
    # Load demo institutions and applications when the database is empty.
    LOAD_DEMO_DATA = _env_bool("LOAD_DEMO_DATA", False)
    # CPU budget of one BPMN script or expression, in interpreted lines.
    SCRIPT_LINE_BUDGET = _env_int("SCRIPT_LINE_BUDGET", 10_000)
    # CPU time of one script or expression (milliseconds of its thread), the largest string, list or
    # range it may build, and the memory its guarded operations may allocate in all.
    SCRIPT_CPU_MILLISECONDS = _env_int("SCRIPT_CPU_MILLISECONDS", 500)
    SCRIPT_MAX_SEQUENCE_LENGTH = _env_int("SCRIPT_MAX_SEQUENCE_LENGTH", 1_000_000)
    SCRIPT_MEMORY_BUDGET_MB = _env_int("SCRIPT_MEMORY_BUDGET_MB", 64)
    # A case whose timers fail is parked as an incident and retried this many times automatically,
    # after INCIDENT_BACKOFF_SECONDS, then twice that, and so on; then it waits for an admin.
    INCIDENT_RETRIES = _env_int("INCIDENT_RETRIES", 3)
    INCIDENT_BACKOFF_SECONDS = _env_int("INCIDENT_BACKOFF_SECONDS", 60)
    # Live workflow objects kept in memory per process (least recently used go first; 0 = none).
    LIVE_WORKFLOW_CACHE_SIZE = _env_int("LIVE_WORKFLOW_CACHE_SIZE", 1_000)
    # `flask worker` restarts its sweep process when one case's timers run longer than this.
    WORKER_CASE_TIMEOUT_SECONDS = _env_int("WORKER_CASE_TIMEOUT_SECONDS", 60)
    # Largest request body read (pages and API); a larger one is refused with 413 before it is read.
    MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH_BYTES", 1024 * 1024)
    # Sign-in throttling (engine.platform.access.SigninThrottle): failures within the window make the next
    # attempt wait 1 s, 2 s, 4 s … (at most the maximum) once an allowance is used up: per account
    # and source address, per source over all accounts (spraying), per account over all sources.
    SIGNIN_WINDOW_MINUTES = _env_int("SIGNIN_WINDOW_MINUTES", 60)
    SIGNIN_FREE_FAILURES = _env_int("SIGNIN_FREE_FAILURES", 3)
    SIGNIN_SOURCE_FREE_FAILURES = _env_int("SIGNIN_SOURCE_FREE_FAILURES", 20)
    SIGNIN_ACCOUNT_FREE_FAILURES = _env_int("SIGNIN_ACCOUNT_FREE_FAILURES", 30)
    SIGNIN_MAX_DELAY_SECONDS = _env_int("SIGNIN_MAX_DELAY_SECONDS", 300)
    # Reverse proxies in front of the app that append the client's address to X-Forwarded-For
    # (0: the peer address is the client's). Sign-in throttling counts by that address.
    TRUSTED_PROXY_COUNT = _env_int("TRUSTED_PROXY_COUNT", 0)
    # Delivery of outbox messages (notifications/): attempts before a dead letter, the first retry's
    # wait (doubling), how long a claimed delivery may take before it is sent again, the worker's poll.
    DELIVERY_MAX_ATTEMPTS = _env_int("DELIVERY_MAX_ATTEMPTS", 8)
    DELIVERY_BACKOFF_SECONDS = _env_int("DELIVERY_BACKOFF_SECONDS", 30)
    DELIVERY_LEASE_SECONDS = _env_int("DELIVERY_LEASE_SECONDS", 60)
    DELIVERY_POLL_SECONDS = _env_int("DELIVERY_POLL_SECONDS", 5)
    WEBHOOK_TIMEOUT_SECONDS = _env_int("WEBHOOK_TIMEOUT_SECONDS", 5)
    # A rotated-out webhook secret still signs (a second signature) for this long.
    WEBHOOK_SECRET_GRACE_HOURS = _env_int("WEBHOOK_SECRET_GRACE_HOURS", 24)
    # E-mail over SMTP; no e-mail is sent while SMTP_HOST is empty. Reminders: one e-mail per person
    # within REMINDER_DIGEST_MINUTES at most, listing every reminder due.
    SMTP_HOST = os.environ.get("SMTP_HOST", "")
    SMTP_PORT = _env_int("SMTP_PORT", 25)
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_STARTTLS = _env_bool("SMTP_STARTTLS", False)
    MAIL_FROM = os.environ.get("MAIL_FROM", "noreply@xinyidai.invalid")
    REMINDER_DIGEST_MINUTES = _env_int("REMINDER_DIGEST_MINUTES", 60)
    # The satisfaction follow-up's targets on the supervisors' board, in percent (the provincial plan:
    # invitation rate 80, valid response rate 60; satisfaction 90).
    SURVEY_INVITATION_TARGET_PERCENT = _env_int("SURVEY_INVITATION_TARGET_PERCENT", 80)
    SURVEY_RESPONSE_TARGET_PERCENT = _env_int("SURVEY_RESPONSE_TARGET_PERCENT", 60)
    SURVEY_SATISFACTION_TARGET_PERCENT = _env_int("SURVEY_SATISFACTION_TARGET_PERCENT", 90)
    # The plan's targets on the reports page: 获贷率 (enterprises that obtained a loan ÷ enterprises that
    # applied) in percent, and new credit granted per year in 亿元 (100 million yuan), as year:amount pairs.
    LOAN_SUCCESS_TARGET_PERCENT = _env_int("LOAN_SUCCESS_TARGET_PERCENT", 50)
    NEW_CREDIT_TARGETS_YI = os.environ.get("NEW_CREDIT_TARGETS_YI") or "2024:1000,2025:1200,2026:1500"
    # How long the handling institution may still read a closed (settled, rejected, withdrawn) case's
    # record, contact data masked and no reveal (engine.platform.authorizations). 180 days covers the
    # half-year the institutions' half-yearly reports (seed 000) reconcile against, the 20-day objection
    # answer (征信业管理条例 art. 25) and the follow-ups; the bank keeps its own copy (银行直连 push)
    # under its own retention duties, so the platform need not disclose longer. 0 closes at once.
    CASE_RECORD_RETENTION_DAYS = _env_int("CASE_RECORD_RETENTION_DAYS", 180)
    # Self-registration (engine.platform.registration): a code is valid this long; this many wrong codes lock
    # the registration; a new code after RESEND seconds, at most MAX_CODES; starts per source address and
    # per contact address within the window. Codes are kept as an HMAC with VERIFICATION_CODE_KEY.
    REGISTRATION_CODE_MINUTES = _env_int("REGISTRATION_CODE_MINUTES", 10)
    REGISTRATION_MAX_WRONG_CODES = _env_int("REGISTRATION_MAX_WRONG_CODES", 5)
    REGISTRATION_RESEND_SECONDS = _env_int("REGISTRATION_RESEND_SECONDS", 60)
    REGISTRATION_MAX_CODES = _env_int("REGISTRATION_MAX_CODES", 5)
    REGISTRATION_STARTS_PER_SOURCE = _env_int("REGISTRATION_STARTS_PER_SOURCE", 5)
    REGISTRATION_STARTS_PER_ADDRESS = _env_int("REGISTRATION_STARTS_PER_ADDRESS", 3)
    REGISTRATION_WINDOW_MINUTES = _env_int("REGISTRATION_WINDOW_MINUTES", 60)
    VERIFICATION_CODE_KEY = os.environ.get("VERIFICATION_CODE_KEY", "")  # empty: derived from SECRET_KEY
    # Phone codes: no SMS provider ships ("none": the page says codes go by e-mail only). Identity (电子营业执照 /
    # face check): no provider ships either; "manual_review" leaves each registration for an administrator's
    # review. "test_double" (either) is for tests and demonstrations only and refused in production.
    SMS_SENDER = os.environ.get("SMS_SENDER", "none")
    IDENTITY_VERIFIER = os.environ.get("IDENTITY_VERIFIER", "manual_review")
    # Personal data at rest (engine/platform/personal_data.py): ID and phone numbers, names and e-mail addresses
    # encrypted (AES-256-GCM) with PERSONAL_DATA_KEYS, URL-safe base64 of 32 bytes each, comma-separated, newest
    # first (the first encrypts, all decrypt; docs/OPERATIONS.md on rotation); looked up by an HMAC-SHA256 under
    # PERSONAL_DATA_HASH_KEY. Both empty: derived from SECRET_KEY with a warning (development and tests);
    # production refuses that.
    PERSONAL_DATA_KEYS = os.environ.get("PERSONAL_DATA_KEYS", "")
    PERSONAL_DATA_HASH_KEY = os.environ.get("PERSONAL_DATA_HASH_KEY", "")
    TESTING = False
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    @classmethod
    def refuses_demo_accounts(cls) -> bool:
        return False

    @classmethod
    def personal_data_fallback_secret(cls) -> str | None:
        """What the personal-data keys are derived from when none are set (None: they must be set). Not the
        per-process random SECRET_KEY, or data written before a restart would not open after it."""
        return os.environ.get("SECRET_KEY") or "development-only-personal-data-secret"

    @classmethod
    def new_credit_targets(cls) -> dict[int, int]:
        """NEW_CREDIT_TARGETS_YI as {year: 亿元}; ConfigError if it is not year:amount pairs."""
        return new_credit_targets(cls.NEW_CREDIT_TARGETS_YI)

    @classmethod
    def script_limits(cls) -> dict[str, float | int]:
        """Keyword arguments of the sandbox (engine.workflow.sandbox.RestrictedEnvironment)."""
        return {"cpu_seconds": cls.SCRIPT_CPU_MILLISECONDS / 1000,
                "max_sequence_length": cls.SCRIPT_MAX_SEQUENCE_LENGTH,
                "memory_budget": cls.SCRIPT_MEMORY_BUDGET_MB * 1024 * 1024}

    @classmethod
    def validate(cls) -> None:
        """Refuse to start with a setting that cannot work."""
        if cls.SCHEDULER_SWEEP_SECONDS < 1:
            raise ConfigError("SCHEDULER_SWEEP_SECONDS must be at least 1")
        if cls.TIMER_BATCH_SIZE < 1:
            raise ConfigError("TIMER_BATCH_SIZE must be at least 1")
        if cls.SCRIPT_LINE_BUDGET < 100:
            raise ConfigError("SCRIPT_LINE_BUDGET must be at least 100")
        if not 10 <= cls.SCRIPT_CPU_MILLISECONDS <= 60_000:
            raise ConfigError("SCRIPT_CPU_MILLISECONDS must be between 10 and 60000")
        if not 1_000 <= cls.SCRIPT_MAX_SEQUENCE_LENGTH <= 100_000_000:
            raise ConfigError("SCRIPT_MAX_SEQUENCE_LENGTH must be between 1000 and 100000000")
        if not 1 <= cls.SCRIPT_MEMORY_BUDGET_MB <= 4096:
            raise ConfigError("SCRIPT_MEMORY_BUDGET_MB must be between 1 and 4096")
        if not 0 <= cls.LIVE_WORKFLOW_CACHE_SIZE <= 1_000_000:
            raise ConfigError("LIVE_WORKFLOW_CACHE_SIZE must be between 0 and 1000000")
        if not 5 <= cls.WORKER_CASE_TIMEOUT_SECONDS <= 3600:
            raise ConfigError("WORKER_CASE_TIMEOUT_SECONDS must be between 5 and 3600")
        if cls.INCIDENT_RETRIES < 0:
            raise ConfigError("INCIDENT_RETRIES must be 0 or more")
        if cls.INCIDENT_BACKOFF_SECONDS < 1:
            raise ConfigError("INCIDENT_BACKOFF_SECONDS must be at least 1")
        if not 64 * 1024 <= cls.MAX_CONTENT_LENGTH <= 1024 * 1024 * 1024:
            raise ConfigError("MAX_CONTENT_LENGTH_BYTES must be between 65536 (64 KiB) and 1073741824 (1 GiB)")
        if not 1 <= cls.SIGNIN_WINDOW_MINUTES <= 24 * 60:
            raise ConfigError("SIGNIN_WINDOW_MINUTES must be between 1 and 1440 (failures are kept a day)")
        for name in ("SIGNIN_FREE_FAILURES", "SIGNIN_SOURCE_FREE_FAILURES", "SIGNIN_ACCOUNT_FREE_FAILURES"):
            if getattr(cls, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if not 1 <= cls.SIGNIN_MAX_DELAY_SECONDS <= 3600:
            raise ConfigError("SIGNIN_MAX_DELAY_SECONDS must be between 1 and 3600")
        if not 0 <= cls.TRUSTED_PROXY_COUNT <= 5:
            raise ConfigError("TRUSTED_PROXY_COUNT must be between 0 and 5")
        if not 1 <= cls.DELIVERY_MAX_ATTEMPTS <= 100:
            raise ConfigError("DELIVERY_MAX_ATTEMPTS must be between 1 and 100")
        for name in ("DELIVERY_BACKOFF_SECONDS", "DELIVERY_POLL_SECONDS", "WEBHOOK_TIMEOUT_SECONDS"):
            if getattr(cls, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        if cls.DELIVERY_LEASE_SECONDS < 2 * cls.WEBHOOK_TIMEOUT_SECONDS:
            raise ConfigError("DELIVERY_LEASE_SECONDS must be at least twice WEBHOOK_TIMEOUT_SECONDS")
        if not 0 <= cls.REMINDER_DIGEST_MINUTES <= 24 * 60:
            raise ConfigError("REMINDER_DIGEST_MINUTES must be between 0 and 1440")
        if not 0 <= cls.WEBHOOK_SECRET_GRACE_HOURS <= 24 * 30:
            raise ConfigError("WEBHOOK_SECRET_GRACE_HOURS must be between 0 and 720")
        if not 1 <= cls.SMTP_PORT <= 65535:
            raise ConfigError("SMTP_PORT must be between 1 and 65535")
        cls.new_credit_targets()
        for name in ("SURVEY_INVITATION_TARGET_PERCENT", "SURVEY_RESPONSE_TARGET_PERCENT",
                     "SURVEY_SATISFACTION_TARGET_PERCENT", "LOAN_SUCCESS_TARGET_PERCENT"):
            if not 0 <= getattr(cls, name) <= 100:
                raise ConfigError(f"{name} must be between 0 and 100")
        if not 0 <= cls.CASE_RECORD_RETENTION_DAYS <= 3660:
            raise ConfigError("CASE_RECORD_RETENTION_DAYS must be between 0 and 3660 (ten years)")
        if not 1 <= cls.REGISTRATION_CODE_MINUTES <= 60:
            raise ConfigError("REGISTRATION_CODE_MINUTES must be between 1 and 60")
        for name in ("REGISTRATION_MAX_WRONG_CODES", "REGISTRATION_MAX_CODES", "REGISTRATION_STARTS_PER_SOURCE",
                     "REGISTRATION_STARTS_PER_ADDRESS"):
            if not 1 <= getattr(cls, name) <= 100:
                raise ConfigError(f"{name} must be between 1 and 100")
        if not 0 <= cls.REGISTRATION_RESEND_SECONDS <= 3600:
            raise ConfigError("REGISTRATION_RESEND_SECONDS must be between 0 and 3600")
        if not 1 <= cls.REGISTRATION_WINDOW_MINUTES <= 24 * 60:
            raise ConfigError("REGISTRATION_WINDOW_MINUTES must be between 1 and 1440 (registrations are kept a day)")
        if cls.SMS_SENDER not in ("none", "test_double"):
            raise ConfigError("SMS_SENDER must be none or test_double (no SMS provider is bundled)")
        if cls.IDENTITY_VERIFIER not in ("manual_review", "test_double"):
            raise ConfigError("IDENTITY_VERIFIER must be manual_review or test_double (no provider is bundled)")
        _check_personal_data_keys(cls.PERSONAL_DATA_KEYS, cls.PERSONAL_DATA_HASH_KEY)
        url = cls.DATABASE_URL
        if url and not url.startswith(("sqlite", "postgresql")):
            raise ConfigError("DATABASE_URL must be a sqlite:// or postgresql:// URL")


class DevelopmentConfig(Config):
    """`make run`: SQLite in the instance folder, demo data; `make run` turns the scheduler on
    for the web process (CLI commands leave it off, and `flask worker` runs its own)."""

    LOAD_DEMO_DATA = _env_bool("LOAD_DEMO_DATA", True)


class TestingConfig(Config):
    """pytest: the database comes from DATABASE_URL or a temporary SQLite file."""

    TESTING = True
    SECRET_KEY = "testing-only-secret"

    @classmethod
    def personal_data_fallback_secret(cls) -> str | None:
        return cls.SECRET_KEY
    SCHEDULER_ENABLED = False
    LOAD_DEMO_DATA = False


class ProductionConfig(Config):
    """Production: PostgreSQL and an explicit secret are required; no demo accounts."""

    SESSION_COOKIE_SECURE = True

    @classmethod
    def refuses_demo_accounts(cls) -> bool:
        return True

    @classmethod
    def validate(cls) -> None:
        super().validate()
        if not os.environ.get("SECRET_KEY"):
            raise ConfigError("SECRET_KEY must be set in production")
        if not (cls.DATABASE_URL or "").startswith("postgresql"):
            raise ConfigError("DATABASE_URL must point to PostgreSQL in production")
        if cls.LOAD_DEMO_DATA:
            raise ConfigError("LOAD_DEMO_DATA must be off in production")
        for name in ("SMS_SENDER", "IDENTITY_VERIFIER"):
            if getattr(cls, name) == "test_double":
                raise ConfigError(f"{name}=test_double is a test double; production refuses it")
        if not (cls.PERSONAL_DATA_KEYS.strip() and cls.PERSONAL_DATA_HASH_KEY.strip()):
            raise ConfigError("PERSONAL_DATA_KEYS and PERSONAL_DATA_HASH_KEY must be set in production "
                              "(docs/OPERATIONS.md: personal data at rest)")

    @classmethod
    def personal_data_fallback_secret(cls) -> str | None:
        return None


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_for(name: str | None = None) -> type[Config]:
    """Return the config class named by `name` or by APP_ENV (default: development)."""
    name = name or os.environ.get("APP_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise ConfigError(f"APP_ENV must be one of {sorted(CONFIGS)}, got {name!r}") from None
