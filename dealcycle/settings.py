"""One settings object, read from environment variables.

Every duration the workflows use lives here, so tests and demos can shorten them.
Durations accept plain seconds (``90``) or a number with a unit (``45s``, ``30m``, ``12h``, ``7d``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from dealcycle.codec import CodecSettings
from dealcycle.connection import TemporalConnection
from dealcycle.intake_settings import IntakeSettings
from dealcycle.metrics import MetricsSettings
from dealcycle.production import SALESFORCE_AUTH_MODES, DeploymentProfile
from dealcycle.usage_feed_settings import UsageFeedSettings
from schemas.account import AccountConfig
from schemas.common import Durations, SecurityRoster
from schemas.health import HealthConfig
from schemas.limits import (
    CHANNEL,
    CONFIG_SECONDS,
    DATE_YEARS,
    DAYS,
    HISTORY_EVENTS,
    MEMBER,
    URL,
    Text,
)
from schemas.roster import Roster

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class SettingsError(ValueError):
    """A configuration variable is missing or malformed; the message names it."""


DURATION_FORM = "seconds or a number with s, m, h, d or w (e.g. 30m, 12h, 7d)"
"""What ``parse_duration`` reads, for messages."""


def parse_duration(name: str, raw: str) -> int:
    """Whole seconds in ``raw``, at least one; ``name`` is the variable, for the error message."""
    match = _DURATION.match(raw)
    if not match:
        raise SettingsError(f"{name}={raw!r} is not a duration: use {DURATION_FORM}")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise SettingsError(f"{name}={raw!r} must be longer than zero")
    if seconds < 1:
        # Whole seconds are kept: a shorter one would be 0, which callers read as "not set".
        raise SettingsError(f"{name}={raw!r} is shorter than the shortest duration, 1s")
    return int(seconds)


# The workflows check their inputs against schemas.limits: a setting they are started with is
# held to the same bounds here, so a value out of them stops the process that reads it, naming
# the variable, instead of failing every workflow start (a hand-off included) later.
MAX_DURATION_SECONDS = CONFIG_SECONDS.high
"""The longest duration a workflow takes (ten years)."""
MAX_INTAKE_INTERVAL_SECONDS = 86_400
"""The Closed Won intake polls at least daily: a won deal waits at most a day for its account."""
MAX_SETTING_DAYS = DATE_YEARS * 365
"""A count of days the workflows add to a date: a renewal date must be within ``DATE_YEARS`` of
today (so must a first one, one contract term ahead), and millions of days overflow Python's
dates inside a workflow task, which then fails for ever (a stuck workflow)."""


def _int(
    env: Mapping[str, str],
    name: str,
    default: int,
    minimum: int = 1,
    maximum: int = CONFIG_SECONDS.high,
) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name}={raw!r} must be from {minimum} to {maximum}")
    return value


def _text(env: Mapping[str, str], name: str, default: str, limit: Text) -> str:
    value = env.get(name) or default
    problem = limit.problem(value, datetime.now(UTC))
    if problem:
        raise SettingsError(f"{name} must be {problem}")
    return value


def _bounded(
    env: Mapping[str, str], name: str, default: int, low: int, high: int, what: str
) -> int:
    """A whole number from ``low`` to ``high``, refused as ``what`` names the range: both ends
    here, since ``_int``'s own upper end (ten years in seconds) means nothing for it."""
    value = _int(env, name, default, minimum=-(2**63), maximum=2**63)
    if not low <= value <= high:
        raise SettingsError(f"{name}={value} {what}")
    return value


def _hour(env: Mapping[str, str], name: str, default: int) -> int:
    return _bounded(env, name, default, 0, 23, "is not an hour of the day (0 to 23, UTC)")


def _url(name: str, value: str, example: str) -> str:
    """An http(s) URL (or nothing); one without its scheme (``login.salesforce.com``) is refused
    here, where the client would fail every call with it as a network error, retried for days."""
    parts = urlsplit(value)
    if value and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise SettingsError(f"{name}={value!r} is not a URL: write it whole, like {example}")
    return value


def _api_version(value: str) -> str:
    """Salesforce's ``vNN.0`` without the ``v``: anything else made every call's URL one that
    Salesforce answers 404, an effect failed for good on every account."""
    if not re.fullmatch(r"[1-9][0-9]\.0", value):
        raise SettingsError(
            f"SALESFORCE_API_VERSION={value!r} is not a Salesforce REST API version: write it"
            " like 62.0"
        )
    return value


_TEN_YEARS = (MAX_DURATION_SECONDS, f"the longest, {MAX_DURATION_SECONDS // 86400}d (ten years)")


def _duration(
    env: Mapping[str, str], name: str, default: int, longest: tuple[int, str] = _TEN_YEARS
) -> int:
    """A duration a workflow is started with: at most ``longest`` (seconds, and how it is
    named in the refusal), ``MAX_DURATION_SECONDS`` unless the setting has a shorter one."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    seconds = parse_duration(name, raw)
    if seconds > longest[0]:
        raise SettingsError(f"{name}={raw!r} is longer than {longest[1]}")
    return seconds


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not 0 <= value <= 100:
        raise SettingsError(f"{name}={raw!r} must be between 0 and 100")
    return value


def _health(env: Mapping[str, str]) -> HealthConfig:
    defaults = HealthConfig()
    weights = {
        "usage": defaults.usage_weight,
        "adoption": defaults.adoption_weight,
        "sentiment": defaults.sentiment_weight,
    }
    raw = env.get("DEALCYCLE_HEALTH_WEIGHTS") or ""
    for part in filter(None, (piece.strip() for piece in raw.split(","))):
        name, _, value = part.partition("=")
        if not value.strip():
            raise SettingsError(
                f"DEALCYCLE_HEALTH_WEIGHTS entry {part!r} has no weight; write it as"
                " usage=0.4,adoption=0.35,sentiment=0.25"
            )
        if name.strip() not in weights:
            raise SettingsError(
                f"DEALCYCLE_HEALTH_WEIGHTS names {name.strip()!r}; use usage, adoption, sentiment"
            )
        label = f"DEALCYCLE_HEALTH_WEIGHTS {name.strip()}"
        weights[name.strip()] = _float({label: value.strip()}, label, 0.0)
    if sum(weights.values()) <= 0:
        raise SettingsError("DEALCYCLE_HEALTH_WEIGHTS must give some input a positive weight")
    green_at = _float(env, "DEALCYCLE_HEALTH_GREEN_AT", defaults.green_at)
    yellow_at = _float(env, "DEALCYCLE_HEALTH_YELLOW_AT", defaults.yellow_at)
    if yellow_at > green_at:
        raise SettingsError(
            f"DEALCYCLE_HEALTH_YELLOW_AT={yellow_at:g} must not be above"
            f" DEALCYCLE_HEALTH_GREEN_AT={green_at:g}"
        )
    return HealthConfig(
        usage_weight=weights["usage"],
        adoption_weight=weights["adoption"],
        sentiment_weight=weights["sentiment"],
        green_at=green_at,
        yellow_at=yellow_at,
        red_accounts_channel=_text(env, "DEALCYCLE_RED_ACCOUNTS_CHANNEL", "#red-accounts", CHANNEL),
        action_plan_sla_seconds=_duration(
            env, "DEALCYCLE_RED_ACCOUNT_SLA", defaults.action_plan_sla_seconds
        ),
        reminder_interval_seconds=_duration(
            env, "DEALCYCLE_RED_ACCOUNT_REMINDER", defaults.reminder_interval_seconds
        ),
    )


def _day_of_quarter(env: Mapping[str, str], name: str, default: int) -> int:
    return _bounded(env, name, default, 1, 90, "must be a day of the quarter, 1 to 90")


SALESFORCE_AUTH_FLOWS = tuple(SALESFORCE_AUTH_MODES)
"""The login flows, in the order the docs give them (jwt, the default, first)."""
"""``SALESFORCE_AUTH``: the OAuth flow the worker logs in with (``jwt`` is the default)."""


@dataclass(frozen=True)
class SalesforceSettings:
    """How to log in to Salesforce; nothing set means "use the local fake".

    ``auth`` picks the OAuth 2.0 flow: ``jwt`` (the JWT bearer flow: a connected app's
    certificate, an assertion signed with ``jwt_key_file``), ``client_credentials`` (the
    connected app's secret, against the org's My Domain URL; Salesforce runs it as the app's
    run-as user), or ``password`` (username-password, which new orgs block: the sandbox only).
    """

    login_url: str = ""
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    api_version: str = "62.0"
    ca_bundle: str = ""
    """A CA file to trust instead of the system's (the local fake's self-signed certificate)."""
    auth: str = "jwt"
    jwt_key_file: str = ""
    """PEM private key whose certificate is uploaded to the connected app (the JWT flow)."""

    def missing(self) -> list[str]:
        """The variables ``auth`` needs that are not set, by name."""
        needed: tuple[tuple[str, str], ...] = (
            ("SALESFORCE_LOGIN_URL", self.login_url),
            ("SALESFORCE_CLIENT_ID", self.client_id),
        )
        if self.auth == "jwt":
            needed += (
                ("SALESFORCE_USERNAME", self.username),
                ("SALESFORCE_JWT_KEY_FILE", self.jwt_key_file),
            )
        elif self.auth == "client_credentials":
            needed += (("SALESFORCE_CLIENT_SECRET", self.client_secret),)
        else:
            needed += (("SALESFORCE_USERNAME", self.username),)
        return [name for name, value in needed if not value]

    @property
    def configured(self) -> bool:
        return not self.missing()

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SalesforceSettings:
        auth = (env.get("SALESFORCE_AUTH") or "jwt").strip().lower()
        if auth not in SALESFORCE_AUTH_FLOWS:
            raise SettingsError(
                f"SALESFORCE_AUTH={auth!r} must be one of {', '.join(SALESFORCE_AUTH_FLOWS)}"
                " (jwt is the default; password only for the local sandbox)"
            )
        return cls(
            login_url=_url(
                "SALESFORCE_LOGIN_URL",
                (env.get("SALESFORCE_LOGIN_URL") or "").strip().rstrip("/"),
                "https://login.salesforce.com",
            ),
            client_id=env.get("SALESFORCE_CLIENT_ID") or "",
            client_secret=env.get("SALESFORCE_CLIENT_SECRET") or "",
            username=env.get("SALESFORCE_USERNAME") or "",
            password=env.get("SALESFORCE_PASSWORD") or "",
            api_version=_api_version(env.get("SALESFORCE_API_VERSION") or "62.0"),
            ca_bundle=env.get("SALESFORCE_CA_BUNDLE") or "",
            auth=auth,
            jwt_key_file=env.get("SALESFORCE_JWT_KEY_FILE") or "",
        )


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str = field(default="", repr=False)
    api_url: str = "https://slack.com/api/"
    signing_secret: str = field(default="", repr=False)
    trial_channel: str = "#dealcycle-trials"

    @property
    def configured(self) -> bool:
        return bool(self.bot_token)


def default_state_dir() -> Path:
    """``.dealcycle`` of the checkout this code runs from, where ``make run`` keeps its state,
    whatever the current directory (a command run from elsewhere would otherwise read, and
    create, an empty database of its own); installed without a checkout, of the current
    directory."""
    root = Path(__file__).resolve().parent.parent
    if (root / "pyproject.toml").is_file():
        return root / ".dealcycle"
    return Path(".dealcycle").absolute()


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "dealcycle"
    temporal_ui_url: str = "http://localhost:8233"
    database_url: str = ""
    license_private_key_file: Path = Path()
    license_public_key_file: Path = Path()
    salesforce: SalesforceSettings = SalesforceSettings()
    slack: SlackSettings = SlackSettings()
    durations: Durations = field(default_factory=Durations)
    security_roster: SecurityRoster = field(
        default_factory=lambda: SecurityRoster("U0SECWEST1", "U0SECEAST1", "U0SECPM01", "U0CELEAD1")
    )
    log_format: str = "auto"
    log_level: str = "info"
    intake_interval_seconds: int = 300
    """How often the Closed Won intake schedule polls Salesforce."""
    digest_hour: int = 8
    """The hour (UTC) the daily digest schedule runs ``DailyDigestWorkflow``."""
    value_engineering: str = "U0VALUEENG1"
    """Who runs the value-realization exercise before renewals (a Slack member id)."""
    account_channel: str = "#customer-accounts"
    product_feedback_channel: str = "#product-feedback"
    account_review_channel: str = "#account-reviews"
    account_history_event_limit: int = 8_000
    max_cached_workflows: int = 1_000
    """Workflows a worker keeps in memory (the SDK's sticky cache): 1,000 aged accounts take
    about 0.7 GB above a worker's base (``make bench``), so the default keeps it under 1 GB."""
    health: HealthConfig = field(default_factory=HealthConfig)
    ops_channel: str = "#dealcycle-ops"
    """Where a failed effect is announced, with the command that fixes it."""
    codec: CodecSettings = field(default_factory=CodecSettings)
    """Payload encryption (``dealcycle.codec``)."""
    usage_feed: UsageFeedSettings = field(default_factory=UsageFeedSettings)
    temporal_connection: TemporalConnection = field(default_factory=TemporalConnection)
    """TLS, API key and where ``temporal_address`` came from (``dealcycle.connection``)."""
    deployment: DeploymentProfile = field(default_factory=DeploymentProfile)
    """``DEALCYCLE_ENV``: what production requires (``dealcycle.production``)."""
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    intake: IntakeSettings = field(default_factory=IntakeSettings)

    def roster(self) -> Roster:
        """The roster until its first rotation (``dealcycle roster set``); the database's after."""
        return Roster.carried(self.security_roster, self.value_engineering)

    def account_config(self) -> AccountConfig:
        """What every account workflow is started with."""
        return AccountConfig(
            durations=self.durations,
            roster=self.security_roster,
            value_engineering=self.value_engineering,
            announce_channel=self.account_channel,
            product_feedback_channel=self.product_feedback_channel,
            account_review_channel=self.account_review_channel,
            history_event_limit=self.account_history_event_limit,
            temporal_ui_url=self.temporal_ui_url,
            namespace=self.temporal_namespace,
            health=self.health,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        given = env.get("DEALCYCLE_STATE_DIR")
        state_dir = Path(given).absolute() if given else default_state_dir()
        log_format = (env.get("DEALCYCLE_LOG_FORMAT") or "auto").lower()
        if log_format not in ("auto", "json", "console"):
            raise SettingsError(
                f"DEALCYCLE_LOG_FORMAT={log_format!r} must be one of auto, json, console"
            )
        log_level = (env.get("DEALCYCLE_LOG_LEVEL") or "info").lower()
        if log_level not in ("debug", "info", "warning", "error"):
            raise SettingsError(
                f"DEALCYCLE_LOG_LEVEL={log_level!r} must be one of debug, info, warning, error"
            )
        defaults = Durations()
        durations = Durations(
            trial_length_days=_int(
                env, "DEALCYCLE_TRIAL_LENGTH_DAYS", defaults.trial_length_days, maximum=DAYS.high
            ),
            planning_item_due_seconds=_duration(
                env, "DEALCYCLE_PLANNING_ITEM_DUE", defaults.planning_item_due_seconds
            ),
            overdue_reminder_delay_seconds=_duration(
                env, "DEALCYCLE_OVERDUE_REMINDER_DELAY", defaults.overdue_reminder_delay_seconds
            ),
            overdue_reminder_repeat_seconds=_duration(
                env, "DEALCYCLE_OVERDUE_REMINDER_REPEAT", defaults.overdue_reminder_repeat_seconds
            ),
            check_in_due_seconds=_duration(
                env, "DEALCYCLE_CHECK_IN_DUE", defaults.check_in_due_seconds
            ),
            day_seconds=_duration(env, "DEALCYCLE_DAY_LENGTH", defaults.day_seconds),
            security_review_due_seconds=_duration(
                env, "DEALCYCLE_SECURITY_REVIEW_DUE", defaults.security_review_due_seconds
            ),
            security_pm_extra_seconds=_duration(
                env, "DEALCYCLE_SECURITY_PM_EXTRA", defaults.security_pm_extra_seconds
            ),
            escalate_after_reminders=_bounded(
                env,
                "DEALCYCLE_ESCALATE_AFTER_REMINDERS",
                defaults.escalate_after_reminders,
                1,
                20,
                "is not a number of reminders before escalating (1 to 20)",
            ),
            contract_term_days=_int(
                env, "DEALCYCLE_CONTRACT_TERM_DAYS", 365, maximum=MAX_SETTING_DAYS
            ),
            check_in_brief_lead_seconds=_duration(
                env, "DEALCYCLE_CHECK_IN_BRIEF_LEAD", defaults.check_in_brief_lead_seconds
            ),
            value_exercise_lead_days=_int(
                env, "DEALCYCLE_VALUE_EXERCISE_LEAD_DAYS", 90, maximum=MAX_SETTING_DAYS
            ),
            renewal_proposal_lead_days=_int(
                env, "DEALCYCLE_RENEWAL_PROPOSAL_LEAD_DAYS", 45, maximum=MAX_SETTING_DAYS
            ),
            # Days into the month: past 28, some months' assessment would be due in the next.
            renewal_assessment_due_days=_bounded(
                env,
                "DEALCYCLE_RENEWAL_ASSESSMENT_DUE_DAYS",
                7,
                1,
                28,
                "is not a day of the month every month has (1 to 28)",
            ),
            internal_qbr_day_of_quarter=_day_of_quarter(
                env, "DEALCYCLE_INTERNAL_QBR_DAY", defaults.internal_qbr_day_of_quarter
            ),
            two_two_review_day_of_quarter=_day_of_quarter(
                env, "DEALCYCLE_TWO_TWO_REVIEW_DAY", defaults.two_two_review_day_of_quarter
            ),
            tier_2_3_plan_due_day_of_quarter=_day_of_quarter(
                env, "DEALCYCLE_TIER_2_3_PLAN_DUE_DAY", defaults.tier_2_3_plan_due_day_of_quarter
            ),
            qbr_due_day_of_quarter=_day_of_quarter(
                env, "DEALCYCLE_QBR_DUE_DAY", defaults.qbr_due_day_of_quarter
            ),
            kickoff_plan_due_days=_int(
                env, "DEALCYCLE_KICKOFF_PLAN_DUE_DAYS", 14, maximum=MAX_SETTING_DAYS
            ),
        )
        roster = SecurityRoster(
            us_west_apac=_text(env, "DEALCYCLE_SECURITY_CE_US_WEST_APAC", "U0SECWEST1", MEMBER),
            us_east_emea=_text(env, "DEALCYCLE_SECURITY_CE_US_EAST_EMEA", "U0SECEAST1", MEMBER),
            security_pm=_text(env, "DEALCYCLE_SECURITY_PM", "U0SECPM01", MEMBER),
            ce_leader=_text(env, "DEALCYCLE_CE_LEADER", "U0CELEAD1", MEMBER),
        )
        connection = TemporalConnection.from_env(env)
        return cls(
            state_dir=state_dir,
            temporal_address=connection.address,
            temporal_namespace=connection.namespace,
            temporal_connection=connection,
            deployment=DeploymentProfile.from_env(env),
            task_queue=env.get("DEALCYCLE_TASK_QUEUE") or "dealcycle",
            # Links in Slack messages and the CLI's output start with it.
            temporal_ui_url=_url(
                "DEALCYCLE_TEMPORAL_UI_URL",
                _text(env, "DEALCYCLE_TEMPORAL_UI_URL", "http://localhost:8233", URL),
                "http://localhost:8233",
            ).rstrip("/"),
            database_url=env.get("DATABASE_URL") or f"sqlite:///{state_dir / 'dealcycle.db'}",
            license_private_key_file=Path(
                env.get("DEALCYCLE_LICENSE_PRIVATE_KEY_FILE")
                or state_dir / "license-signing-key.pem"
            ),
            license_public_key_file=Path(
                env.get("DEALCYCLE_LICENSE_PUBLIC_KEY_FILE")
                or state_dir / "license-signing-key.pub"
            ),
            salesforce=SalesforceSettings.from_env(env),
            slack=SlackSettings(
                bot_token=env.get("SLACK_BOT_TOKEN") or "",
                api_url=_url(
                    "SLACK_API_URL",
                    (env.get("SLACK_API_URL") or "").strip() or "https://slack.com/api/",
                    "https://slack.com/api/",
                ),
                signing_secret=env.get("SLACK_SIGNING_SECRET") or "",
                trial_channel=_text(env, "DEALCYCLE_TRIAL_CHANNEL", "#dealcycle-trials", CHANNEL),
            ),
            durations=durations,
            security_roster=roster,
            intake_interval_seconds=_duration(
                env,
                "DEALCYCLE_INTAKE_INTERVAL",
                300,
                (MAX_INTAKE_INTERVAL_SECONDS, "a day, the longest wait for a won deal"),
            ),
            intake=IntakeSettings.from_env(env),
            digest_hour=_hour(env, "DEALCYCLE_DIGEST_HOUR", 8),
            value_engineering=_text(env, "DEALCYCLE_VALUE_ENGINEERING", "U0VALUEENG1", MEMBER),
            account_channel=_text(env, "DEALCYCLE_ACCOUNT_CHANNEL", "#customer-accounts", CHANNEL),
            product_feedback_channel=_text(
                env, "DEALCYCLE_PRODUCT_FEEDBACK_CHANNEL", "#product-feedback", CHANNEL
            ),
            account_review_channel=_text(
                env, "DEALCYCLE_ACCOUNT_REVIEW_CHANNEL", "#account-reviews", CHANNEL
            ),
            health=_health(env),
            account_history_event_limit=_int(
                env,
                "DEALCYCLE_ACCOUNT_HISTORY_EVENT_LIMIT",
                8_000,
                minimum=500,
                maximum=HISTORY_EVENTS.high,
            ),
            ops_channel=_text(env, "DEALCYCLE_OPS_CHANNEL", "#dealcycle-ops", CHANNEL),
            max_cached_workflows=_bounded(
                env,
                "DEALCYCLE_MAX_CACHED_WORKFLOWS",
                1_000,
                1,
                100_000,
                "is not a cache size from 1 to 100000 workflows",
            ),
            codec=CodecSettings.from_env(env),
            usage_feed=UsageFeedSettings.from_env(env),
            log_format=log_format,
            log_level=log_level,
            metrics=MetricsSettings.from_env(env),
        )
