"""Settings from the environment; nothing else reads os.environ."""

from __future__ import annotations

import os
import secrets
from fractions import Fraction
from pathlib import Path


class ConfigError(ValueError):
    """A setting with a value the app cannot run with: refused at startup."""


def whole_number(name: str, value: object, minimum: int) -> int:
    """`value` (from the environment or create_app's overrides) as an int >= minimum,
    or a ConfigError that names the setting."""
    text = str(value).strip()
    if isinstance(value, bool) or not (text.isascii() and text.isdigit()) or int(text) < minimum:
        raise ConfigError(f"{name} must be a whole number >= {minimum}, not {value!r}")
    return int(text)


def positive_number(name: str, value: object) -> float:
    """`value` as a finite number > 0, or a ConfigError that names the setting."""
    try:
        number = float(str(value).strip())
    except ValueError:
        number = float("nan")
    if isinstance(value, bool) or not 0 < number < float("inf"):
        raise ConfigError(f"{name} must be a number > 0, not {value!r}")
    return number


def fraction(name: str, value: object) -> float:
    """`value` (0.25, "1/3") as a number strictly between 0 and 1, or a ConfigError."""
    try:
        number = float(Fraction(str(value).strip()))
    except (ValueError, ZeroDivisionError):
        number = float("nan")
    if isinstance(value, bool) or not 0 < number < 1:
        raise ConfigError(f"{name} must be a fraction between 0 and 1 (0.33, 1/3), not {value!r}")
    return number


def check_quality_settings(config: dict) -> None:
    """The quality flags' thresholds (intake/quality.py)."""
    config["QUALITY_SPEEDER_FRACTION"] = fraction(
        "QUALITY_SPEEDER_FRACTION", config["QUALITY_SPEEDER_FRACTION"]
    )
    config["QUALITY_BURST_MINUTES"] = positive_number(
        "QUALITY_BURST_MINUTES", config["QUALITY_BURST_MINUTES"]
    )
    for name, minimum in (
        ("QUALITY_SPEEDER_WINDOW", 1),
        ("QUALITY_SPEEDER_MIN_COMPARED", 1),
        ("QUALITY_STRAIGHT_LINE_ROWS", 2),
        ("QUALITY_DUPLICATE_MIN_ANSWERS", 1),
        ("QUALITY_BURST_COUNT", 1),
        ("QUALITY_NETWORK_LOOKBACK", 100),
    ):
        config[name] = whole_number(name, config[name], minimum)


def check_settings(config: dict) -> None:
    """Refuse bad values of the settings read at startup, with a message that says
    which and why (instead of a failure on the first request that uses them)."""
    config["TRUSTED_PROXIES"] = whole_number("TRUSTED_PROXIES", config["TRUSTED_PROXIES"], 0)
    config["RESULTS_REQUEST_SCAN_ROWS"] = whole_number(
        "RESULTS_REQUEST_SCAN_ROWS", config["RESULTS_REQUEST_SCAN_ROWS"], 0
    )
    for name in ("RESULTS_TICK_ROWS", "RESULTS_JOB_STEP_ROWS"):
        config[name] = whole_number(name, config[name], 1)
    check_limits(config)
    check_read_url(config)
    check_secret_key(config)
    check_node_settings(config)
    for name in ("STAFF_SESSION_IDLE_MINUTES", "STAFF_SESSION_MAX_HOURS"):
        config[name] = positive_number(name, config[name])
    check_quality_settings(config)
    check_webhook_settings(config)
    # A session's last use is noted once a minute (staff/sessions.py TOUCH_SECONDS): a
    # shorter idle limit would end sessions in use.
    if config["STAFF_SESSION_IDLE_MINUTES"] < 2:
        raise ConfigError(
            "STAFF_SESSION_IDLE_MINUTES must be at least 2, not "
            f"{config['STAFF_SESSION_IDLE_MINUTES']!r}"
        )


def check_secret_key(config: dict) -> None:
    """No SECRET_KEY: a random one for this process in the embedded mode (one process,
    `make run`, tests), but a refusal to start in the production shape (REDIS_URL set).

    With several web nodes and workers, a key of its own per process would silently
    break everything signed on one node and checked on another: a staff member signed
    in on node A is signed out (and their CSRF token refused) on node B, a citizen's
    device token and the page's start time look forged, a proof of work is refused,
    access codes no longer match. Failing at startup with this message is what the
    operator can act on; a warning in a log would be found after the campaign."""
    if config.get("SECRET_KEY"):
        return
    if config.get("REDIS_URL"):
        raise ConfigError(
            "SECRET_KEY is not set, and REDIS_URL is: in the production shape every web "
            "node and worker must share one SECRET_KEY (staff sessions, CSRF tokens, "
            "device tokens, proof-of-work challenges and access codes are signed with it). "
            'Set it to the same long random value everywhere, e.g. python3 -c "import '
            'secrets; print(secrets.token_hex(32))".'
        )
    config["SECRET_KEY"] = secrets.token_hex(32)


EXPORT_STORAGES = ("folder", "database")


def check_node_settings(config: dict) -> None:
    """The settings of several machines (Config._nodes)."""
    storage = str(config["EXPORT_STORAGE"]).strip().lower()
    if storage not in EXPORT_STORAGES:
        raise ConfigError(
            f"EXPORT_STORAGE must be one of {', '.join(EXPORT_STORAGES)}, "
            f"not {config['EXPORT_STORAGE']!r}"
        )
    config["EXPORT_STORAGE"] = storage


LIMIT_SETTINGS = (
    "LIMIT_NETWORK_PER_MINUTE",
    "LIMIT_DEVICE_PER_10_MINUTES",
    "LIMIT_SURVEY_PER_MINUTE",
)


def check_limits(config: dict) -> None:
    """The circuit breakers' limits (0: off) and the proof of work's difficulty."""
    for name in LIMIT_SETTINGS:
        config[name] = whole_number(name, config[name], 0)
    bits = whole_number("POW_DIFFICULTY_BITS", config["POW_DIFFICULTY_BITS"], 1)
    if bits > 32:  # 2**32 tries: hours on a phone
        raise ConfigError(f"POW_DIFFICULTY_BITS must be at most 32, not {bits!r}")
    config["POW_DIFFICULTY_BITS"] = bits


WEBHOOK_NUMBERS = {  # setting: its least value
    "WEBHOOK_ENDPOINTS_PER_SURVEY": 1,
    "WEBHOOK_BATCH_RESPONSES": 1,
    "WEBHOOK_MAX_PAYLOAD_BYTES": 1024,
    "WEBHOOK_MAX_ATTEMPTS": 1,
    "WEBHOOK_CONCURRENCY": 1,
}
WEBHOOK_FLAGS = ("WEBHOOK_ALLOW_LOOPBACK", "WEBHOOK_ALLOW_PRIVATE")


def check_webhook_settings(config: dict) -> None:
    """The webhooks' limits (webhooks/, docs/webhooks.md)."""
    for name, least in WEBHOOK_NUMBERS.items():
        config[name] = whole_number(name, config[name], least)
    for name in (
        "WEBHOOK_TIMEOUT_SECONDS",
        "WEBHOOK_RETRY_BASE_SECONDS",
        "WEBHOOK_RETRY_MAX_SECONDS",
    ):
        config[name] = positive_number(name, config[name])
    if config["WEBHOOK_TIMEOUT_SECONDS"] > 60:  # a worker's sending thread held longer
        raise ConfigError(
            f"WEBHOOK_TIMEOUT_SECONDS must be at most 60, not {config['WEBHOOK_TIMEOUT_SECONDS']!r}"
        )
    for name in WEBHOOK_FLAGS:
        value = config[name]
        config[name] = (
            value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        )


def database_url(url: str) -> str:
    """Accept the usual postgresql:// URL and use psycopg 3 for it."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def check_read_url(config: dict) -> None:
    """DATABASE_READ_URL names a PostgreSQL streaming replica, or nothing: no other
    database replicates (replica.py)."""
    url = config.get("DATABASE_READ_URL") or None
    if url is not None:
        url = database_url(str(url))
        if not url.startswith("postgresql"):
            raise ConfigError(f"DATABASE_READ_URL must be a postgresql:// URL, not {url!r}")
    config["DATABASE_READ_URL"] = url


def engine_options(url: str, options: dict) -> dict:
    """PostgreSQL connections that fail fast when the database host goes silent.

    Without this a request (or the drain) waits on a dead host until gunicorn kills
    the worker: connecting gives up after 2 s, and TCP keepalives / user timeout
    break an established connection after about 10 s of silence.
    """
    if not url.startswith("postgresql"):
        return options
    connect_args = {
        "connect_timeout": 2,
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "tcp_user_timeout": 10_000,
        **options.get("connect_args", {}),
    }
    return {**options, "connect_args": connect_args}


class Config:
    """Defaults for the embedded mode: SQLite under instance/, no Redis (inline mode)."""

    def __init__(self, instance_path: str) -> None:
        self._storage(instance_path)
        self._replica()
        self._requests()
        self._staff()
        self._results(instance_path)
        self._limits()
        self._quality()
        self._nodes()
        self._webhooks()

    def _storage(self, instance_path: str) -> None:
        """The database, Redis and the drain that moves submissions from one to the other."""
        self.SQLALCHEMY_DATABASE_URI = database_url(
            os.environ.get(
                "DATABASE_URL", "sqlite:///" + str(Path(instance_path) / "survey-engine.sqlite3")
            )
        )
        # Unset: inline mode, the web process stores each submission itself.
        self.REDIS_URL = os.environ.get("REDIS_URL") or None
        # Several machines (docs/deployment.md, redis_connections.py): REDIS_URL names a
        # Redis Cluster; RQ's jobs then need a plain Redis of their own (RQ_REDIS_URL,
        # else REDIS_URL). A submission is acknowledged once this many replicas have
        # it (WAIT), or, when they do not answer in time, once it is also stored in the
        # database: a master that dies right after cannot take it along.
        self.REDIS_CLUSTER = os.environ.get("REDIS_CLUSTER", "").lower() in ("1", "true", "yes")
        self.RQ_REDIS_URL = os.environ.get("RQ_REDIS_URL") or None
        self.REDIS_WAIT_REPLICAS = os.environ.get("REDIS_WAIT_REPLICAS", 0)
        self.REDIS_WAIT_TIMEOUT_MS = os.environ.get("REDIS_WAIT_TIMEOUT_MS", 200)
        # The drain: entries per transaction; how long an entry may sit with a
        # silent worker before another claims it; deliveries before dead-lettering.
        self.DRAIN_BATCH_SIZE = int(os.environ.get("DRAIN_BATCH_SIZE", 500))
        self.DRAIN_CLAIM_IDLE_MS = int(os.environ.get("DRAIN_CLAIM_IDLE_MS", 30_000))
        self.DRAIN_MAX_DELIVERIES = int(os.environ.get("DRAIN_MAX_DELIVERIES", 5))
        self.SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}

    def _replica(self) -> None:
        """A PostgreSQL streaming replica of DATABASE_URL for the reads that may lag:
        the dashboard's scans and the exports (replica.py says which). Unset: every
        read from the primary."""
        self.DATABASE_READ_URL = os.environ.get("DATABASE_READ_URL") or None

    def _requests(self) -> None:
        """What a request may send: its size, and a staff upload's."""
        # A whole questionnaire's answers fit in a few KB; 256 KB leaves room
        # for long comments and refuses anything abusive with 413.
        self.MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 256 * 1024))
        self.MAX_FORM_MEMORY_SIZE = self.MAX_CONTENT_LENGTH
        # Staff uploading a survey definition (JSON or XLSForm) only: workbooks with
        # long choice lists are easily a few hundred KB.
        self.ADMIN_UPLOAD_MAX_BYTES = int(os.environ.get("ADMIN_UPLOAD_MAX_BYTES", 8 * 1024 * 1024))
        # A citizen's file for an image/audio/video/file question (docs/uploads.md): a
        # phone photo is 2-5 MB, a minute of voice under 1 MB; 10 MB each by default.
        self.UPLOAD_MAX_BYTES = int(os.environ.get("UPLOAD_MAX_BYTES", 10 * 1024 * 1024))
        # Uploads per client address (Flask-Limiter's syntax, counted like the login's).
        # A file costs far more than a form, so uploads, unlike answers, are limited per
        # address; high enough for the many phones behind one carrier-grade NAT.
        self.UPLOAD_RATE_LIMIT = os.environ.get("UPLOAD_RATE_LIMIT", "60/minute")
        # Where staff reach this site (https://khaosat.example.gov.vn), for the links to
        # uploaded files in exports made by a worker; unset: the links are paths only.
        self.STAFF_BASE_URL = os.environ.get("STAFF_BASE_URL", "").rstrip("/")

    def _staff(self) -> None:
        """Staff sign-in and sessions, the proxies in front, and who may read /metrics."""
        # Signs staff sessions, CSRF tokens, the device and started tokens and the
        # proof-of-work challenges, and keys access codes: every web node and worker
        # must have the same one. Unset: check_secret_key decides.
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or None
        # Staff sessions: no script can read the cookie, no other site can send it on a
        # POST; Secure (HTTPS only) when SESSION_COOKIE_SECURE=1, as behind TLS.
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "").lower() in (
            "1",
            "true",
            "yes",
            "on",
        )
        # Staff sessions end after this long without a request, and this long after
        # signing in whatever happens (signing in again is one form).
        self.STAFF_SESSION_IDLE_MINUTES = os.environ.get("STAFF_SESSION_IDLE_MINUTES", 120)
        self.STAFF_SESSION_MAX_HOURS = os.environ.get("STAFF_SESSION_MAX_HOURS", 12)
        # How many reverse proxies stand in front of the app and append to
        # X-Forwarded-For/-Proto/-Host (werkzeug's ProxyFix). 0: those headers are
        # ignored, the client is the connection's peer. Too high a count lets a client
        # choose its own address (and escape the per-address login limit).
        self.TRUSTED_PROXIES = os.environ.get("TRUSTED_PROXIES", 0)
        # Attempts at POST /admin/login per client address (Flask-Limiter's syntax);
        # counted in Redis when REDIS_URL is set, else in the process's memory.
        self.LOGIN_RATE_LIMIT = os.environ.get("LOGIN_RATE_LIMIT", "20/minute")
        # Requests to the data API (survey list, responses, version definitions) per
        # caller (a token, or a staff session's address), counted like the login's.
        self.API_READ_RATE_LIMIT = os.environ.get("API_READ_RATE_LIMIT", "120/minute")
        # /metrics (it names every survey with its counts): scrapers connecting from
        # these networks (comma-separated, CIDR), or sending this bearer token.
        self.METRICS_ALLOW_NETWORKS = os.environ.get(
            "METRICS_ALLOW_NETWORKS", "127.0.0.0/8,::1/128"
        )
        self.METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None

    def _results(self, instance_path: str) -> None:
        """Published surveys' cache, responses exports and the results dashboard."""
        # How long a web process trusts its copy of a published survey.
        self.SURVEY_CACHE_SECONDS = float(os.environ.get("SURVEY_CACHE_SECONDS", 5))
        # Responses exports made from the staff pages: where the files are written (with
        # several machines, a folder every web node and worker shares) and how long
        # they are kept for download.
        self.EXPORT_DIR = os.environ.get("EXPORT_DIR") or str(Path(instance_path) / "exports")
        self.EXPORT_KEEP_HOURS = float(os.environ.get("EXPORT_KEEP_HOURS", 72))
        # The results dashboard (results/saved.py): a request reads at most this many
        # responses not yet counted, more is counted by a job while the page shows its
        # progress; the workers read on at most RESULTS_TICK_ROWS between drain batches;
        # a job saves its progress every RESULTS_JOB_STEP_ROWS.
        self.RESULTS_REQUEST_SCAN_ROWS = os.environ.get("RESULTS_REQUEST_SCAN_ROWS", 30_000)
        self.RESULTS_TICK_ROWS = os.environ.get("RESULTS_TICK_ROWS", 2_000)
        self.RESULTS_JOB_STEP_ROWS = os.environ.get("RESULTS_JOB_STEP_ROWS", 50_000)

    def _limits(self) -> None:
        """The circuit breakers (intake/breakers.py, docs/abuse.md); 0 turns one off."""
        # Citizens share carrier-grade NAT: a whole commune may come from one address,
        # so a network key takes hundreds a minute; one browser a handful in 10 minutes.
        self.LIMIT_NETWORK_PER_MINUTE = os.environ.get("LIMIT_NETWORK_PER_MINUTE", 600)
        self.LIMIT_DEVICE_PER_10_MINUTES = os.environ.get("LIMIT_DEVICE_PER_10_MINUTES", 5)
        self.LIMIT_SURVEY_PER_MINUTE = os.environ.get("LIMIT_SURVEY_PER_MINUTE", 6_000)
        # Over a limit, the page's script finds a hash with this many leading zero bits
        # (about 2**bits SHA-256 tries: 18 is a second or two on a cheap phone).
        self.POW_DIFFICULTY_BITS = os.environ.get("POW_DIFFICULTY_BITS", 18)

    def _quality(self) -> None:
        """The quality flags computed as responses are stored (intake/quality.py)."""
        env = os.environ.get
        # speeder: under this fraction of the median duration of the last WINDOW stored
        # responses, once MIN_COMPARED durations are known.
        self.QUALITY_SPEEDER_FRACTION = env("QUALITY_SPEEDER_FRACTION", "1/3")
        self.QUALITY_SPEEDER_WINDOW = env("QUALITY_SPEEDER_WINDOW", 1000)
        self.QUALITY_SPEEDER_MIN_COMPARED = env("QUALITY_SPEEDER_MIN_COMPARED", 20)
        # straight_lining: a matrix of at least this many rows, all in one column.
        self.QUALITY_STRAIGHT_LINE_ROWS = env("QUALITY_STRAIGHT_LINE_ROWS", 3)
        # duplicate by network: identical answers count only from this many answered.
        self.QUALITY_DUPLICATE_MIN_ANSWERS = env("QUALITY_DUPLICATE_MIN_ANSWERS", 5)
        # burst: more than COUNT responses no distinct browser explains within MINUTES.
        self.QUALITY_BURST_COUNT = env("QUALITY_BURST_COUNT", 30)
        self.QUALITY_BURST_MINUTES = env("QUALITY_BURST_MINUTES", 5)
        # A batch reads at most this many of its networks' responses of the day.
        self.QUALITY_NETWORK_LOOKBACK = env("QUALITY_NETWORK_LOOKBACK", 5000)

    def _nodes(self) -> None:
        """Several web nodes behind a load balancer, workers on other machines."""
        # While this file exists /healthz answers 404 "draining": the balancer sends the
        # node nothing new, so it can be stopped without cutting a request (web/health.py).
        self.HEALTH_DRAIN_FILE = os.environ.get("HEALTH_DRAIN_FILE") or None
        # Where finished exports are kept for download: "folder" (EXPORT_DIR, shared by
        # every web node and worker when there are several machines) or "database"
        # (the file's bytes in chunks in the export_file_chunks table: any web node
        # streams it, no shared folder needed).
        self.EXPORT_STORAGE = os.environ.get("EXPORT_STORAGE", "folder")

    def _webhooks(self) -> None:
        """Webhooks (webhooks/, docs/webhooks.md): limits, and which addresses they reach."""
        env = os.environ.get
        self.WEBHOOK_ENDPOINTS_PER_SURVEY = env("WEBHOOK_ENDPOINTS_PER_SURVEY", 5)
        # Stored responses per delivery, and a delivery's body at most (split below it).
        self.WEBHOOK_BATCH_RESPONSES = env("WEBHOOK_BATCH_RESPONSES", 100)
        self.WEBHOOK_MAX_PAYLOAD_BYTES = env("WEBHOOK_MAX_PAYLOAD_BYTES", 1024 * 1024)
        # One attempt: connect, send, the answer's status line; then retries after
        # BASE * 2**(attempt-1) seconds (at most MAX) until MAX_ATTEMPTS, then "failed".
        self.WEBHOOK_TIMEOUT_SECONDS = env("WEBHOOK_TIMEOUT_SECONDS", 10)
        self.WEBHOOK_RETRY_BASE_SECONDS = env("WEBHOOK_RETRY_BASE_SECONDS", 30)
        self.WEBHOOK_RETRY_MAX_SECONDS = env("WEBHOOK_RETRY_MAX_SECONDS", 6 * 3600)
        self.WEBHOOK_MAX_ATTEMPTS = env("WEBHOOK_MAX_ATTEMPTS", 12)
        # Deliveries a worker sends at once (threads): a slow receiver holds one each.
        self.WEBHOOK_CONCURRENCY = env("WEBHOOK_CONCURRENCY", 4)
        # Delivered deliveries are kept this many days in the log, then deleted.
        self.WEBHOOK_KEEP_DAYS = env("WEBHOOK_KEEP_DAYS", 30)
        # Off: only https:// to public addresses. LOOPBACK: http:// or https:// to
        # 127.0.0.0/8 and ::1 (tests, development). PRIVATE: private, link-local
        # (cloud metadata), shared and reserved addresses too (a receiver on the LAN).
        self.WEBHOOK_ALLOW_LOOPBACK = env("WEBHOOK_ALLOW_LOOPBACK", "")
        self.WEBHOOK_ALLOW_PRIVATE = env("WEBHOOK_ALLOW_PRIVATE", "")
