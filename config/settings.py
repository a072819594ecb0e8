"""Statecenter settings: everything comes from the environment, with safe defaults.

With nothing set, the platform runs on a SQLite file and a Celery transport that needs no
server (files under var/). `.env.example` lists every variable.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ

from config.checks import secret_from_env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# Optional; real environment variables win. ENV_FILE names another file (the tests start
# processes with an empty one).
env.read_env(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))

DEBUG = env.bool("DEBUG", default=False)
# In production (DEBUG=false) a secret unset, empty or written in the repository stops every
# process here; development falls back to a fixed key. Never a random one: every process
# must sign alike. `make install` writes random ones into .env.
SECRET_KEY = secret_from_env(env, "SECRET_KEY", debug=DEBUG)
# Behind HTTPS in production: secure cookies, HSTS and a redirect from http. Off for make run.
HTTPS = env.bool("HTTPS", default=False)
if HTTPS:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    if env.bool("USE_X_FORWARDED_PROTO", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
CSRF_FAILURE_VIEW = "config.exceptions.csrf_failure"  # the API's error format under /api/

# Hosts a transition action or subscriber may call back: "host", "host:port", ".example.com"
# for a domain and its subdomains, or "*" for any host.
CALLBACK_ALLOWED_HOSTS = env.list("CALLBACK_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
# Signs every callback (Standard Webhooks): "whsec_" + base64 of the key bytes.
CALLBACK_SECRET = secret_from_env(env, "CALLBACK_SECRET", debug=DEBUG)
CALLBACK_TIMEOUT = env.float("CALLBACK_TIMEOUT", default=5.0)  # seconds, whole call

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc as static files: the docs work offline
    "axes",  # failed admin logins: lockout per username and address
    "clients",
    "machines",
    "runtime",
    "designer",  # the admin: on top of machines and runtime
    "operations",  # /healthz, /readyz, /metrics; the workers' heartbeat and log lines
]

MIDDLEWARE = [
    "operations.middleware.ProbeMiddleware",  # first: probes by address over plain HTTP
    "config.logs.RequestIdMiddleware",  # X-Request-ID, in every log line of the request
    "django.middleware.security.SecurityMiddleware",
    "config.middleware.ApiInputMiddleware",  # NUL in an /api/ path or query: 400, not a 500
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # "...ForPages": the admin's middleware, skipped by the business API (config/middleware.py).
    "config.middleware.LocaleForPages",  # the admin follows the browser or the switch
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "config.middleware.MessagesForPages",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.request_budget.RequestBudgetMiddleware",  # one expression budget per request
    "axes.middleware.AxesMiddleware",  # last, as axes asks: turns a lockout into its 429
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

# How long an event waits for another event on the same instance before 409 INSTANCE_BUSY.
EVENT_LOCK_TIMEOUT_MS = env.int("EVENT_LOCK_TIMEOUT_MS", default=3000)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'statecenter.sqlite3'}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(exist_ok=True)
    # A file, not memory, so a worker process started by the tests can share it; one per test
    # run, so runs side by side never meet.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
    # Writers wait for the lock instead of failing at once; the lock serialises events .
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    # Set once per connection rather than per event: waiting longer for a row lock fails; and
    # the hot path's prepared statements keep one plan (the ORM's queries are not prepared):
    # left to choose, PostgreSQL plans the async claim again on every call, which costs more
    # than running it (runtime/batches.py).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c lock_timeout={EVENT_LOCK_TIMEOUT_MS} -c plan_cache_mode=force_generic_plan"
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("MAX_BODY_BYTES", default=1024 * 1024)  # larger: 400

AUTH_PASSWORD_VALIDATORS = []
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]  # compiled .mo files are committed: no gettext needed
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
LOGIN_URL = "/admin/login/"
# axes' backend first: it refuses a locked-out login before a password is checked.
AUTHENTICATION_BACKENDS = [
    "clients.authentication.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# The admin login locks out one username from one address after AXES_FAILURE_LIMIT failures,
# for AXES_COOLOFF_MINUTES after the last one (429 with Retry-After). Per username and
# address together, so a stranger guessing a password can't lock its owner out elsewhere.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True  # a good login clears the typos that came before it
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"  # shared by every process
AXES_CLIENT_IP_CALLABLE = "clients.addresses.client_address"
AXES_LOCKOUT_CALLABLE = "clients.authentication.login_lockout_response"
# Proxies (addresses or networks) whose X-Forwarded-For names the client; the socket's
# address is the client's otherwise. The throttles and the admin lockout count by it.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "clients.authentication.ClientTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "EXCEPTION_HANDLER": "config.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["clients.throttles.ClientRateThrottle"],
    "UNAUTHENTICATED_USER": None,
    # The API reads JSON only; a form-encoded or multipart body is 415 VALIDATION_ERROR.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",  # APIClient.post(url, data) sends what the API reads
    # ?format= belongs to the diagram API (mermaid, dot, plantuml), not to content negotiation.
    "URL_FORMAT_OVERRIDE": None,
}
# Requests a client may make per window ("600/second", "20000/minute"; "0" turns it off).
API_THROTTLE_RATE = env("API_THROTTLE_RATE", default="600/second")
# Failed token checks per client address and window; past the limit further failures get
# 429 THROTTLED (valid tokens are never refused). 20 in 5 minutes leaves room for a client
# retrying with a stale token, and makes guessing a 160-bit token hopeless; 0 turns it off.
AUTH_FAILURE_LIMIT = env.int("AUTH_FAILURE_LIMIT", default=20)
AUTH_FAILURE_WINDOW = env.int("AUTH_FAILURE_WINDOW", default=300)  # seconds
SPECTACULAR_SETTINGS = {
    "TITLE": "Statecenter API",
    "DESCRIPTION": "Design state machines, publish them, run instances and fire events.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ and /api/redoc/ load Swagger UI and ReDoc from our static files, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Enums named once for every field that uses them; config.schema.name_enum_values adds
    # each value's name (x-enum-varnames), so generated clients say TESTING, not VALUE_1.
    "ENUM_NAME_OVERRIDES": {
        "MachineStatusEnum": "machines.models.Machine.Status",
        "StateTypeEnum": "machines.models.State.Type",
        "YesNoEnum": "machines.interchange.YES_NO",
        "ProblemLevelEnum": "machines.validation.problems.PROBLEM_LEVELS",
        "EventStatusEnum": "runtime.models.EventRecord.Status",
        "VerdictEnum": "runtime.apis.answers.VERDICTS",
        "NotificationTypeEnum": ["transition"],
        "AsyncResultTypeEnum": ["event"],
    },
    # A nullable enum is `nullable: true`, not a oneOf with a separate NullEnum.
    "ENUM_ADD_EXPLICIT_BLANK_NULL_CHOICE": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.schema.name_enum_values",
    ],
}

CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _queue = Path(env("CELERY_QUEUE_DIR", default=str(VAR_DIR / "queue")))
    _queue.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT = "config.filesystem_broker:Transport"  # writes messages atomically
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue),
        "data_folder_out": str(_queue),
        "processed_folder": str(VAR_DIR / "queue-processed"),
        "store_processed": False,
        "control_folder": f"{_queue}-control",  # kombu's default is ./control
        "polling_interval": 0.1,  # seconds between looks at the folder when it is empty
    }
# Workers: JSON only; a task is acknowledged after it ran, and a killed worker's task goes
# back to the queue. What matters survives without them: the work lives in the database.
# Workers keep their database connection between tasks, as web processes do between
# requests (CONN_MAX_AGE), instead of Celery's default of a new connection for every task:
# the async path runs many short tasks. config/celery.py closes a broken or old one at each
# task's start and end, as Django does around a request.
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Each worker process holds up to 4 messages: a broker submission is one short statement, and
# with one message at a time the processes spent most of their time waiting for the next one
# (204 submissions/s against 385 with 4, bench data, 2 processes). What it costs: messages
# held by a worker killed outright come back after the visibility timeout below.
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_SERIALIZER = CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("TASK_SOFT_TIME_LIMIT", default=50)
CELERY_TASK_TIME_LIMIT = env.int("TASK_TIME_LIMIT", default=60)
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing never blocks a request for long: if the broker is down, the sweeper re-enqueues.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **globals().get("CELERY_BROKER_TRANSPORT_OPTIONS", {}),
    "visibility_timeout": env.int("BROKER_VISIBILITY_TIMEOUT", default=300),
}
CELERY_BEAT_SCHEDULE = {
    "sweep": {"task": "runtime.sweep", "schedule": env.float("SWEEP_SECONDS", default=2.0)},
    "history-rollup": {"task": "operations.history_rollup", "schedule": 60.0},  # admin counts
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# Async events and deliveries: attempts, backoff (exponential with jitter) and the lease a
# worker holds on the item it is working on.
ASYNC_MAX_ATTEMPTS = env.int("ASYNC_MAX_ATTEMPTS", default=5)
ASYNC_RETRY_BASE_SECONDS = env.float("ASYNC_RETRY_BASE_SECONDS", default=2.0)
ASYNC_RETRY_MAX_SECONDS = env.float("ASYNC_RETRY_MAX_SECONDS", default=300.0)
ASYNC_LEASE_SECONDS = env.int("ASYNC_LEASE_SECONDS", default=90)

# /metrics: with a token, only `Authorization: Bearer <METRICS_TOKEN>`; without, loopback only.
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# "json": one JSON object per line (time, level, logger, message, request/instance/event ids);
# anything else: plain text. Celery's INFO lines about each routine sweep are DEBUG.
LOG_FORMAT = env("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "ids": {"()": "config.logs.ContextFilter"},
        "quiet_sweep": {"()": "config.logs.QuietSweepFilter"},
    },
    "formatters": {"json": {"()": "config.logs.json_formatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["ids"],
            **({"formatter": "json"} if LOG_FORMAT == "json" else {}),
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler (DEBUG only) would write each of its lines twice.
        "django": {"level": "INFO"},
        **{
            name: {"filters": ["quiet_sweep"]}
            for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace")
        },
    },
}
