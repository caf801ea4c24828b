"""Fineprint settings, read from the environment.

Every variable is listed in .env.example. Without any of them the service runs
on embedded development defaults: SQLite, a filesystem Celery broker and
email written to files under var/mail/. Outside DEBUG, SECRET_KEY must be given.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_bool_renamed, env_date, env_float_or_empty, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FINEPRINT_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is required when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-used-with-debug"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "core.admin_site.FineprintAdminConfig",  # django.contrib.admin, with Fineprint's site (core/admin_site.py)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "core",
    "registry",
    "risks",
    "reports",
    "providers",
    "lifecycle",
    "datasets",
    "sbs",
    "django_celery_beat",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the path or the query: a NUL or a broken byte there is a 400, not a 500.
    "core.middleware.UrlHygieneMiddleware",
    # Django's session, user and messages middleware, passed by on /api/v1/ (bearer tokens only there).
    "core.middleware.BrowserSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "core.middleware.BrowserAuthenticationMiddleware",
    "core.middleware.BrowserMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "core.middleware.AuditSourceMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
# SQLite by default (WAL so the web server, worker and beat can share it, and a
# busy timeout instead of "database is locked"); DATABASE_URL for PostgreSQL.
_database_url = env_str("DATABASE_URL", "")
if _database_url:
    DATABASES = {
        "default": dj_database_url.parse(
            _database_url,
            conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's, with a health check that costs no round trip while the server has said nothing.
        DATABASES["default"]["ENGINE"] = "core.pgbackend"
        # The planner's price of a random page read. PostgreSQL's default (4) prices a read from a spinning
        # disk; with the registry's tables in memory or on SSD, 1.1 is the usual value, and at 4 the planner
        # walks thousands of versions for a selective metric search instead of reading the metric's index
        # (docs/benchmarks.md, "Against MLflow"). Sent as a connection option; empty leaves the server's
        # (behind a pooler that refuses startup options, set it on the database instead: docs/production.md).
        _page_cost = env_float_or_empty("DATABASE_RANDOM_PAGE_COST", "1.1", minimum=0.01)
        if _page_cost is not None:
            DATABASES["default"].setdefault("OPTIONS", {})["options"] = f"-c random_page_cost={_page_cost}"
        # The hot reads whose plan does not depend on their values (a version by its name, a model's page, a
        # page's evaluations) are planned once per connection: planning the get's statement took 0.8 ms, running
        # it 0.1 (core.pgbackend.prepared_cursor). So are a registration's statements (its INSERTs and the
        # chain's claim in core.audit.create_tracked, the model and data-card reads) and the auth epoch every
        # API request reads: a third of PostgreSQL's CPU for a registration. Off behind a pooler that cannot
        # carry prepared statements (PgBouncer before 1.21, or with max_prepared_statements = 0): docs/production.md.
        # Called DATABASE_PREPARED_READS until it covered writes too; that name still works.
        DATABASES["default"].setdefault("OPTIONS", {})["prepared_statements"] = env_bool_renamed(
            "DATABASE_PREPARED_STATEMENTS", "DATABASE_PREPARED_READS", True
        )
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "fineprint.sqlite3",
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-axes first: it refuses a locked-out username and address before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Uploaded evidence and generated reports: keep it on persistent, backed-up storage.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "media/"  # never served as such: files are downloaded through permission-checked views

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)

# --- HTTPS -------------------------------------------------------------------------
# Outside DEBUG, plain HTTP is redirected to HTTPS and browsers are told (HSTS) to use nothing
# else for a year. Behind a proxy that terminates TLS, Django only sees the proxy's plain HTTP:
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO makes it trust the proxy's X-Forwarded-Proto
# (the proxy must set it on every request, overwriting the client's), or SECURE_SSL_REDIRECT=0
# leaves the redirect to the proxy.
_proxy_ssl_header = env_str("SECURE_PROXY_SSL_HEADER", "")
if _proxy_ssl_header and not _proxy_ssl_header.startswith("HTTP_"):
    raise ImproperlyConfigured(
        f"SECURE_PROXY_SSL_HEADER must be a request.META name (HTTP_...), got {_proxy_ssl_header!r}."
    )
SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header, "https") if _proxy_ssl_header else None
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600, minimum=0)
    # Covers only the service's own host name's subdomains; preloading is a promise browsers
    # keep for months, so it is a decision to take, never a default.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

# --- Admin login lockout (django-axes) ---------------------------------------------------
# After ADMIN_LOGIN_FAILURE_LIMIT wrong passwords for one username from one address, that
# username is refused from that address until ADMIN_LOGIN_COOLOFF_MINUTES after the last attempt
# (an attempt while locked out, right password or not, restarts the wait), and the lockout is
# recorded as a security event (core.lockouts). `manage.py axes_reset_username NAME` unlocks early.
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_COOLOFF_MINUTES", 15, minimum=1))
# Keyed by username and address together. By username alone, anyone could keep compliance staff
# out of the admin by typing their names; by address alone, one office behind NAT would lock
# itself out. The price: an attacker with many addresses gets the limit once per address.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# In the database: every web process sees the same counts, and the attempts are in the admin.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_CALLABLE = "core.lockouts.lockout_response"
AXES_CLIENT_IP_CALLABLE = "core.addresses.client_ip_address"

# --- REST API -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["core.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.RolePermission"],
    # JSON under the input hygiene rules (core.parsers): hostile values are a 400, big bodies a 413.
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    # DRF's JSON written by orjson (core.renderers): a page of 100 versions renders in 0.1 ms, not 1.8.
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# The largest request body (JSON, or a form's fields) in bytes; over it, 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("REQUEST_MAX_BODY_BYTES", 2_621_440, minimum=1024)
# The largest file of each upload, in bytes; over it, 413 (the upload stops being read there).
EVIDENCE_MAX_UPLOAD_BYTES = env_int("EVIDENCE_MAX_UPLOAD_BYTES", 25 * 1024 * 1024, minimum=1024)
TRAINING_FILE_MAX_UPLOAD_BYTES = env_int("TRAINING_FILE_MAX_UPLOAD_BYTES", 100 * 1024 * 1024, minimum=1024)

SPECTACULAR_SETTINGS = {
    "TITLE": "Fineprint API",
    "DESCRIPTION": "Model registry and governance for fine-tuned LLMs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # The error shape and the error answers every operation shares, added once (core/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.postprocess_error_responses",
    ],
    # Swagger UI assets come from the sidecar package: nothing loads from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "EnvironmentEnum": "registry.models.Environment",
        "VersionStatusEnum": "registry.models.VersionStatus",
        "PromotionStatusEnum": "registry.models.PromotionStatus",
        "RiskTierEnum": "registry.models.RiskTier",
        "RiskStatusEnum": "risks.models.RiskStatus",
        "RiskEditableStatusEnum": "risks.api.serializers.EDITABLE_STATUS_CHOICES",
        "ActionStatusEnum": "risks.models.ActionStatus",
        "AcceptanceStatusEnum": "risks.models.AcceptanceStatus",
        "IncidentStatusEnum": "risks.models.IncidentStatus",
        "IncidentOpenStatusEnum": "risks.api.serializers.INCIDENT_OPEN_STATUS_CHOICES",
        # Risk bands and incident severities share their values and labels: one enum.
        "LevelEnum": "risks.scoring.Band",
        "LikelihoodEnum": "risks.scoring.Likelihood",
        "ImpactEnum": "risks.scoring.Impact",
        "DatasetKindEnum": "datasets.models.DatasetKind",
        "SbsOutcomeEnum": "sbs.models.Outcome",
        "DatasetCheckStatusEnum": "datasets.models.CheckStatus",
    },
}

# --- Datasets (docs/datasets.md) ---------------------------------------------------------
# The largest dataset an upload may send, in bytes (default 512 MiB); over it, 413. The file is
# streamed to a temporary file while its SHA-256 is computed, never held in memory whole.
DATASET_MAX_BYTES = env_int("DATASET_MAX_BYTES", 512 * 1024 * 1024, minimum=1024)
# Keep each uploaded file after its check (default off: training sets often hold personal data;
# what is kept is the report and, for golden sets, fingerprints).
DATASET_KEEP_FILES = env_bool("DATASET_KEEP_FILES", False)
# Where uploads wait for their check (and stay, with DATASET_KEEP_FILES): shared by web and worker.
DATASET_STORAGE = Path(env_str("DATASET_STORAGE", "") or VAR_DIR / "datasets")  # empty: the default too

# --- Golden sets and side-by-side runs (docs/evaluation.md) ------------------------------------
# Keep each golden item's text (its turns and reference answer) beside its hash, so reviewers can
# read the items a version lost (default off, as for datasets: the counts, intents and hashes are
# always kept). `make run` turns it on for the demo.
GOLDEN_KEEP_TEXT = env_bool("GOLDEN_KEEP_TEXT", False)
# The largest golden set file (bytes) and item count a version may have; over either, 413 / 400.
GOLDEN_MAX_BYTES = env_int("GOLDEN_MAX_BYTES", 64 * 1024 * 1024, minimum=1024)
GOLDEN_MAX_ITEMS = env_int("GOLDEN_MAX_ITEMS", 50_000, minimum=1)
# The most verdicts one side-by-side run may carry, and the largest JSONL upload of them (bytes).
SBS_MAX_VERDICTS = env_int("SBS_MAX_VERDICTS", 100_000, minimum=1)
SBS_MAX_UPLOAD_BYTES = env_int("SBS_MAX_UPLOAD_BYTES", 32 * 1024 * 1024, minimum=1024)

# --- Release gates -----------------------------------------------------------------------
# The gate of a model that has no policy of its own (registry.gates).
FINEPRINT_DEFAULT_GATE_RULES = [
    {"metric": "win_rate", "min": 0.55},
    {"metric": "refusal_rate", "min": 0.02, "max": 0.08},
    {"metric": "p95_latency_ms", "max": 1200},
    # The version's data as the datasets app checked it (registry.gates, docs/datasets.md).
    {"metric": "dataset_check"},
    {"metric": "golden_leakage", "max": 0},
]

# --- Audit trail ------------------------------------------------------------------
SIMPLE_HISTORY_HISTORY_CHANGE_REASON_USE_TEXT_FIELD = True
SIMPLE_HISTORY_REVERT_DISABLED = True  # history is a record, not an undo button
FINEPRINT_SERVICE_USERNAME = "fineprint-service"
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24, minimum=1)

# The audit chain (docs/audit.md): every history row is HMAC-linked under this key, which lives
# in the environment, never in the database. Rotating it: put the old one in AUDIT_CHAIN_OLD_KEYS
# (comma-separated) so the verifier can still check the older segments.
AUDIT_CHAIN_KEY = env_str("AUDIT_CHAIN_KEY", "")
if not AUDIT_CHAIN_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("AUDIT_CHAIN_KEY is required when DEBUG is off (openssl rand -hex 32).")
    AUDIT_CHAIN_KEY = "insecure-development-audit-chain-key-only-used-with-debug"
if len(AUDIT_CHAIN_KEY) < 32:
    raise ImproperlyConfigured("AUDIT_CHAIN_KEY must be at least 32 characters (openssl rand -hex 32).")
AUDIT_CHAIN_OLD_KEYS = env_list("AUDIT_CHAIN_OLD_KEYS", [])
# Checkpoints are written here, one file each, never overwritten; and to an S3-compatible bucket
# when AUDIT_CHECKPOINT_S3_BUCKET is set (with the AWS_* credentials boto3 reads).
AUDIT_CHECKPOINT_DIR = Path(env_str("AUDIT_CHECKPOINT_DIR", "") or VAR_DIR / "checkpoints")
AUDIT_CHECKPOINT_S3_BUCKET = env_str("AUDIT_CHECKPOINT_S3_BUCKET", "")
AUDIT_CHECKPOINT_S3_PREFIX = env_str("AUDIT_CHECKPOINT_S3_PREFIX", "") or "fineprint/checkpoints/"
AUDIT_CHECKPOINT_S3_ENDPOINT_URL = env_str("AUDIT_CHECKPOINT_S3_ENDPOINT_URL", "") or None
AUDIT_EXPORT_DIR = Path(env_str("AUDIT_EXPORT_DIR", "") or VAR_DIR / "exports")
# Only the test suite sets this: its flush between transactional tests empties history tables.
AUDIT_HISTORY_FLUSH_ALLOWED = False

# --- API tokens and failed authentication -------------------------------------------------
# A token lives this many days unless its owner picks an earlier date; its owner is emailed
# API_TOKEN_EXPIRY_NOTICE_DAYS before it expires.
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 90, minimum=1)
API_TOKEN_EXPIRY_NOTICE_DAYS = env_int("API_TOKEN_EXPIRY_NOTICE_DAYS", 14, minimum=1)
# An address that sends API_AUTH_FAILURE_LIMIT bad tokens within API_AUTH_FAILURE_WINDOW_SECONDS
# gets 429 (with Retry-After) for every bad token for API_AUTH_LOCKOUT_SECONDS; valid tokens still work.
API_AUTH_FAILURE_LIMIT = env_int("API_AUTH_FAILURE_LIMIT", 20, minimum=1)
API_AUTH_FAILURE_WINDOW_SECONDS = env_int("API_AUTH_FAILURE_WINDOW_SECONDS", 300, minimum=1)
API_AUTH_LOCKOUT_SECONDS = env_int("API_AUTH_LOCKOUT_SECONDS", 900, minimum=1)
# How many proxies that append to X-Forwarded-For stand between the clients and gunicorn (nginx
# alone: 1). 0 uses the connection's address; the header is never trusted further left than the
# outermost proxy counted here. Both lockouts (admin and API) read addresses this way (core.addresses).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

# The counters above live in the cache, which every web process must share: a file cache on
# one machine by default, Redis in production (CACHE_URL=redis://host:6379/1).
_cache_url = env_str("CACHE_URL", "")
if _cache_url.startswith(("redis://", "rediss://")):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}}
elif _cache_url:
    raise ImproperlyConfigured(f"CACHE_URL must be redis://... or empty, got {_cache_url!r}.")
else:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": VAR_DIR / "cache"}
    }

# --- OpenAI ----------------------------------------------------------------------------
# With OPENAI_BASE_URL empty and a real key, Fineprint talks to OpenAI itself;
# `make run` points it at the fake server in providers/fake_openai.py instead.
OPENAI_API_KEY = env_str("OPENAI_API_KEY", "")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL", "")
OPENAI_ORGANIZATION = env_str("OPENAI_ORGANIZATION", "")
OPENAI_PROJECT = env_str("OPENAI_PROJECT", "")
OPENAI_WEBHOOK_SECRET = env_str("OPENAI_WEBHOOK_SECRET", "")
OPENAI_TIMEOUT_SECONDS = env_int("OPENAI_TIMEOUT_SECONDS", 20, minimum=1)
# How often beat syncs in-flight jobs, and how long one tick may spend (waiting out 429s included).
OPENAI_SYNC_INTERVAL_SECONDS = env_int("OPENAI_SYNC_INTERVAL_SECONDS", 60, minimum=5)
OPENAI_SYNC_BUDGET_SECONDS = env_int("OPENAI_SYNC_BUDGET_SECONDS", 45, minimum=1)
# Tags the jobs this deployment starts (job metadata), so a sync lists only its own.
FINEPRINT_INSTANCE = env_str("FINEPRINT_INSTANCE", "fineprint")

# --- Azure OpenAI (docs/providers.md) ------------------------------------------------------
# The second provider, through the same SDK (openai.AzureOpenAI). Not configured (no endpoint):
# every request for it is refused with a 400 naming the missing setting. Authentication is the
# resource's key, or Entra ID (AZURE_OPENAI_USE_ENTRA_ID=1, with the azure-identity credentials
# of the environment) when no key is set.
AZURE_OPENAI_ENDPOINT = env_str("AZURE_OPENAI_ENDPOINT", "")
AZURE_OPENAI_API_VERSION = env_str("AZURE_OPENAI_API_VERSION", "2025-04-01-preview")
AZURE_OPENAI_API_KEY = env_str("AZURE_OPENAI_API_KEY", "")
AZURE_OPENAI_USE_ENTRA_ID = env_bool("AZURE_OPENAI_USE_ENTRA_ID", False)
# The control plane, for deploying a fine-tuned model (Azure serves one only once deployed).
AZURE_MANAGEMENT_ENDPOINT = env_str("AZURE_MANAGEMENT_ENDPOINT", "https://management.azure.com")
AZURE_SUBSCRIPTION_ID = env_str("AZURE_SUBSCRIPTION_ID", "")
AZURE_RESOURCE_GROUP = env_str("AZURE_RESOURCE_GROUP", "")
AZURE_OPENAI_RESOURCE_NAME = env_str("AZURE_OPENAI_RESOURCE_NAME", "")
AZURE_MANAGEMENT_TOKEN = env_str("AZURE_MANAGEMENT_TOKEN", "")

# --- Provider lifecycle (docs/lifecycle.md) ------------------------------------------------
# The last day OpenAI accepts new fine-tuning jobs (its self-serve fine-tuning closes after
# 2027-01-06), and the base models it fine-tunes. Empty: no closing day announced.
OPENAI_LAST_FINE_TUNING_DAY = env_date("OPENAI_LAST_FINE_TUNING_DAY", "2027-01-06")
OPENAI_FINE_TUNABLE_MODELS = env_list(
    "OPENAI_FINE_TUNABLE_MODELS",
    [
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
        "gpt-4o-2024-08-06",
        "gpt-4o-mini-2024-07-18",
        "gpt-3.5-turbo-0125",
    ],
)
# Azure announces no end to fine-tuning; its fine-tunable bases are also read from its model list.
AZURE_LAST_FINE_TUNING_DAY = env_date("AZURE_LAST_FINE_TUNING_DAY", "")
AZURE_FINE_TUNABLE_MODELS = env_list(
    "AZURE_FINE_TUNABLE_MODELS",
    [
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
        "gpt-4o-2024-08-06",
        "gpt-4o-mini-2024-07-18",
    ],
)
# A live deployment whose base model shuts down within this many days opens a risk.
LIFECYCLE_WARN_DAYS = env_int("LIFECYCLE_WARN_DAYS", 90, minimum=1)
# A promotion onto a base model that shuts down within this many days fails the gate's lifecycle rule.
LIFECYCLE_GATE_DAYS = env_int("LIFECYCLE_GATE_DAYS", 14, minimum=0)
# The catalogue sync runs daily at this UTC hour (and on demand: admin action, sync_catalogue).
LIFECYCLE_SYNC_HOUR = env_int("LIFECYCLE_SYNC_HOUR", 5, minimum=0)
if LIFECYCLE_SYNC_HOUR > 23:
    raise ImproperlyConfigured(f"LIFECYCLE_SYNC_HOUR is an hour of the day (0-23), got {LIFECYCLE_SYNC_HOUR}.")

# --- Celery ---------------------------------------------------------------------------
# How often metric checks (live control evidence) are evaluated against the latest evaluations.
RISK_METRIC_CHECK_INTERVAL_SECONDS = env_int("RISK_METRIC_CHECK_INTERVAL_SECONDS", 600, minimum=10)

# The default broker is kombu's filesystem transport: no server, and it works
# across the web, worker and beat processes of `make run`.
_broker_dir = VAR_DIR / "broker"

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Broadcast (control) messages too, or kombu writes them to ./control of the working directory.
        "control_folder": str(_broker_dir / "control"),
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
    }
# On Redis, the transport options are set below the monthly report's settings (they depend on them).
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
# At-least-once: a task is acknowledged when done, and given back if its worker dies;
# every task is safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Above the longest a sync tick may take (its budget plus a provider call), so a
# limit only ever stops a task that is truly stuck.
CELERY_TASK_SOFT_TIME_LIMIT = OPENAI_SYNC_BUDGET_SECONDS + 2 * OPENAI_TIMEOUT_SECONDS + 10
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 30
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# The schedule lives in the database (django-celery-beat): visible and editable in the admin
# (Periodic tasks). The entries below are written there each time beat starts; the monthly
# report's entry is created once by a migration, so an edit in the admin sticks.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True
CELERY_BEAT_SCHEDULE = {
    "purge-idempotency-records": {
        "task": "core.tasks.idempotency_records_purge",
        "schedule": 3600.0,
    },
    "email-token-expiry-notices": {
        "task": "core.tasks.token_expiry_notices_send_task",
        "schedule": 6 * 3600.0,  # each token is announced once; a few runs a day catch a failed send soon
    },
    "sync-fine-tune-jobs": {
        "task": "registry.tasks.fine_tune_jobs_sync",
        "schedule": float(OPENAI_SYNC_INTERVAL_SECONDS),
        # A tick that could not start before the next one is due is dropped, not queued up.
        "options": {"expires": float(OPENAI_SYNC_INTERVAL_SECONDS)},
    },
    "evaluate-metric-checks": {
        "task": "risks.tasks.metric_checks_evaluate",
        "schedule": float(RISK_METRIC_CHECK_INTERVAL_SECONDS),
        "options": {"expires": float(RISK_METRIC_CHECK_INTERVAL_SECONDS)},
    },
    "expire-risk-acceptances": {
        "task": "risks.tasks.acceptances_expire",
        "schedule": 3600.0,
    },
    # Shutdown dates from each configured provider's model list, once a day (and on demand in the
    # admin); one task syncs every provider in turn and skips one that is not configured.
    "sync-provider-catalogue": {
        "task": "lifecycle.tasks.catalogues_sync_task",
        "schedule": crontab(minute=0, hour=LIFECYCLE_SYNC_HOUR),
    },
    # Runway risks opened, escalated and closed as the days pass: hourly, so a threshold crossed
    # at midnight is acted on within the hour; idempotent, so most runs change nothing.
    "update-lifecycle-risks": {
        "task": "risks.tasks.lifecycle_risks_update_task",
        "schedule": 3600.0,
    },
    # The audit chain: a signed checkpoint written outside the database each night, then the whole
    # chain verified against every checkpoint; hourly, the links since the last verified checkpoint.
    # A failure opens a Critical incident and emails Compliance (risks.tasks.audit_chain_verify).
    "make-audit-checkpoint": {
        "task": "core.tasks.audit_checkpoint_make_task",
        "schedule": crontab(minute=50, hour=1),
    },
    "verify-audit-chain": {
        "task": "risks.tasks.audit_chain_verify",
        "schedule": crontab(minute=0, hour=2),
        "kwargs": {"scope": "full"},
    },
    "verify-audit-chain-since-checkpoint": {
        "task": "risks.tasks.audit_chain_verify",
        "schedule": crontab(minute=30),
        "kwargs": {"scope": "since"},
        "options": {"expires": 3600.0},
    },
}

# --- Email ----------------------------------------------------------------------------
# By default each message is written to a file under var/mail/ (PDFs included); production
# sets the SMTP backend and EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = Path(env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail")))
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "fineprint@localhost")

# --- Monthly report -------------------------------------------------------------------
# Shown on the report's cover.
FINEPRINT_ORGANISATION = env_str("FINEPRINT_ORGANISATION", "Fineprint demo organisation")
# Sent the report besides the active members of the Executives group.
REPORT_EXTRA_RECIPIENTS = env_list("REPORT_EXTRA_RECIPIENTS", [])
# A failed send is retried this many times, waiting 1, 2, 4... minutes (REPORT_RETRY_BASE_SECONDS).
REPORT_DELIVERY_MAX_RETRIES = env_int("REPORT_DELIVERY_MAX_RETRIES", 5, minimum=0)
REPORT_RETRY_BASE_SECONDS = env_int("REPORT_RETRY_BASE_SECONDS", 60, minimum=1)

# --- Celery on Redis: a dead worker's tasks ------------------------------------------------
# Redis cannot see a worker die. A task a worker took and never acknowledged (acks_late) is given
# to another worker once it has been out for the visibility timeout: shorter than the longest a
# task may run, it would start a second copy of a task still running (refused below); shorter
# than a retry's countdown plus a run, it would also run again a retry that is only waiting for
# its time, which a worker holds unacknowledged (the default covers that too).
# Every task runs under CELERY_TASK_TIME_LIMIT: none sets a longer time_limit of its own, and
# tests/core/test_deploy_settings.py fails if one does or retries later than the countdown below.
TASK_LONGEST_RUN_SECONDS = CELERY_TASK_TIME_LIMIT
# The report delivery's last retry, or the report tasks' own (retry_backoff=60, 3 retries: 240 s).
TASK_LONGEST_COUNTDOWN_SECONDS = max(REPORT_RETRY_BASE_SECONDS * 2 ** max(REPORT_DELIVERY_MAX_RETRIES - 1, 0), 240)
TASK_VISIBILITY_TIMEOUT_SECONDS = env_int(
    "CELERY_VISIBILITY_TIMEOUT", TASK_LONGEST_COUNTDOWN_SECONDS + TASK_LONGEST_RUN_SECONDS + 60, minimum=1
)
if TASK_VISIBILITY_TIMEOUT_SECONDS < TASK_LONGEST_RUN_SECONDS:
    raise ImproperlyConfigured(
        f"CELERY_VISIBILITY_TIMEOUT must be at least the longest a task may run ({TASK_LONGEST_RUN_SECONDS} s), "
        f"or Redis hands a running task to a second worker; got {TASK_VISIBILITY_TIMEOUT_SECONDS}."
    )
# Each worker looks for tasks past their visibility timeout every ~10 s (1 s ticks, every 10th
# scans; kombu's default is every 100 s), so a dead worker's task is redelivered within
# CELERY_VISIBILITY_TIMEOUT + 10 s of being taken, as long as some worker is running.
REDIS_REDELIVERY_SCAN_SECONDS = 10
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": TASK_VISIBILITY_TIMEOUT_SECONDS,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": REDIS_REDELIVERY_SCAN_SECONDS,
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
