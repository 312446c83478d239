"""Settings shared by every shape and environment. Everything comes from the environment with a
safe local default; the environment modules (local, test, production) hold only differences.

The shape is chosen by SERVICE: unset means all-in-one (every service, one database alias each),
a service name means split (that service only, its own database in DATABASE_URL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url

from config.services import SERVICES
from config.settings.env import env_bool, env_int, env_list, env_str, local_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("SHOPSTACK_VAR_DIR", str(BASE_DIR / "var")))

# --- Shape (config/settings/shape.py) ----------------------------------------------------------
from config.settings.shape import *  # noqa: E402

# --- Core --------------------------------------------------------------------------------------
DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "insecure-local-development-key-do-not-use-in-production")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    # First, so its management commands (runserver, migrate) replace Django's own.
    "apps.core",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "axes",
    "drf_spectacular_sidecar",  # Swagger UI from our own static files
    "corsheaders",
    *(SERVICES[name].app for name in ACTIVE_SERVICES),
]

MIDDLEWARE = [
    "apps.core.middleware.RequestContextMiddleware",
    "apps.core.health.HealthCheckMiddleware",
    # Inside health (whose 503 is its own JSON) and outside everything else, so every error an
    # API path answers becomes a problem body, whichever layer made it.
    "apps.core.api.middleware.ApiResponseMiddleware",
    "apps.core.api.middleware.RefuseNulMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves /static/<service>/ from the image in the split shape (no web server in the task).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out admin sign-in into its lockout answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.core.adminsite.staff_handoff_links",
            ],
        },
    },
]

# --- Databases: one alias per service ---------------------------------------------------------
# All-in-one: "default" holds Django's own apps (staff accounts, sessions, admin log) and each
# service has its own alias. Split: the process has exactly one database, DATABASE_URL, holding
# its service's tables and Django's own. The router (apps.core.routers) maps models to aliases.
DATABASE_CONN_MAX_AGE = env_int("DATABASE_CONN_MAX_AGE", 60)
# PostgreSQL goes through apps.core.postgresql (Django's backend; timestamptz read by psycopg's C
# loader) with these, measured in docs/benchmarks.md ("Database connections and category pages"):
# - a connection that ran a query less than this many seconds ago skips the per-request (and
#   per-task) health check, `SELECT 1`; one idle longer is checked. 0, the default: check before
#   every request, as Django does. Above 0 saves a round trip (measured: 0.02-0.08 ms of
#   PostgreSQL CPU a request, the server's within noise), but a connection broken in that window (a
#   failover) fails the request or task that meets it instead of being replaced first
#   (tests/core/test_task_connections.py holds workers to the latter).
DATABASE_HEALTH_CHECK_IDLE_SECONDS = env_int("DATABASE_HEALTH_CHECK_IDLE_SECONDS", 0)
# - server-side binding (parameters sent apart from the SQL), and a statement run this many times
#   on a connection is prepared there (planned once). Both need a session that stays one backend:
#   direct connections, as deployed, or a session-mode pooler; behind a transaction-mode pooler
#   (RDS Proxy, PgBouncer) set DATABASE_PREPARE_THRESHOLD=-1 (never prepare), see the docs.
DATABASE_SERVER_SIDE_BINDING = env_bool("DATABASE_SERVER_SIDE_BINDING", True)
DATABASE_PREPARE_THRESHOLD = env_int("DATABASE_PREPARE_THRESHOLD", 5)
# - Django's psycopg connection pool per process instead of persistent connections (CONN_MAX_AGE
#   is then 0; needs psycopg_pool, not in the requirements): off, never cheaper per request than
#   the connection each thread keeps.
DATABASE_POOL = env_bool("DATABASE_POOL", False)
# SQLite (all-in-one) serves concurrent requests from one file per alias: WAL lets readers run
# beside the one writer; IMMEDIATE takes the write lock when a transaction begins, so a writer
# waits up to this many seconds for its turn instead of failing with "database is locked" when a
# read-only transaction later tries to write (SQLite cannot upgrade it while another writes).
SQLITE_BUSY_TIMEOUT_SECONDS = env_int("SQLITE_BUSY_TIMEOUT_SECONDS", 30)


def _database(url: str) -> dict:
    config = dj_database_url.parse(url, conn_max_age=DATABASE_CONN_MAX_AGE, conn_health_checks=True)
    config.setdefault("OPTIONS", {})
    if config["ENGINE"] == "django.db.backends.postgresql":
        config["ENGINE"] = "apps.core.postgresql"
        config["OPTIONS"]["server_side_binding"] = DATABASE_SERVER_SIDE_BINDING
        if DATABASE_SERVER_SIDE_BINDING and DATABASE_PREPARE_THRESHOLD >= 0:
            config["OPTIONS"]["prepare_threshold"] = DATABASE_PREPARE_THRESHOLD
        if DATABASE_POOL:
            config["OPTIONS"]["pool"] = True
            config["CONN_MAX_AGE"] = 0  # the pool keeps the connections
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"].update(
            transaction_mode="IMMEDIATE",
            timeout=SQLITE_BUSY_TIMEOUT_SECONDS,
            # synchronous=NORMAL is durable under WAL except for the last commits on power loss.
            init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        )
    return config


def _sqlite_url(alias: str) -> str:
    return f"sqlite:///{VAR_DIR / 'db' / f'{alias}.sqlite3'}"


if ALL_IN_ONE:
    DATABASES = {"default": _database(env_str("DATABASE_URL", _sqlite_url("default")))}
    for _name in ACTIVE_SERVICES:
        DATABASES[_name] = _database(env_str(f"{_name.upper()}_DATABASE_URL", _sqlite_url(_name)))
else:
    DATABASES = {"default": _database(env_str("DATABASE_URL", _sqlite_url(SERVICE)))}

DATABASE_ROUTERS = ["apps.core.routers.ServiceRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth (staff) ------------------------------------------------------------------------------
# Staff use Django's own auth.User, present in every service's database so each admin works on
# its own; shoppers are users.Customer and reach other services only as a signed JWT.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "apps.core.passwords.VisibleCharactersValidator"},
]

# Every staff sign-in (each service's admin) goes through django-axes first: it refuses a locked
# out username or address before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# --- Client address ------------------------------------------------------------------------------
# How many proxies in front of the app each append to X-Forwarded-For; the client is that many
# entries from the right (apps.core.client_address). 0: the TCP peer (REMOTE_ADDR), nothing from
# the header. Every throttle, lockout and request log keys on this address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# --- Sign-in protection ------------------------------------------------------------------------
# Shoppers (apps.core.lockout): after SIGN_IN_LOCKOUT_THRESHOLD wrong passwords for one email,
# sign-in for it is refused for SIGN_IN_LOCKOUT_BASE_SECONDS, doubling with each further wrong
# password up to SIGN_IN_LOCKOUT_MAX_SECONDS. The count is kept SIGN_IN_LOCKOUT_WINDOW_SECONDS
# from the first failure and cleared by a successful sign-in.
SIGN_IN_LOCKOUT_THRESHOLD = env_int("SIGN_IN_LOCKOUT_THRESHOLD", 5)
SIGN_IN_LOCKOUT_BASE_SECONDS = env_int("SIGN_IN_LOCKOUT_BASE_SECONDS", 60)
SIGN_IN_LOCKOUT_MAX_SECONDS = env_int("SIGN_IN_LOCKOUT_MAX_SECONDS", 3600)
SIGN_IN_LOCKOUT_WINDOW_SECONDS = env_int("SIGN_IN_LOCKOUT_WINDOW_SECONDS", 24 * 3600)
# Staff (django-axes, every service's admin): AXES_FAILURE_LIMIT wrong passwords for one username,
# or from one client address, lock that username or address out for ADMIN_LOCKOUT_MINUTES.
# Counted in the Django cache: shared (Redis) in production, so every process sees one count.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_CACHE = "default"
AXES_FAILURE_LIMIT = env_int("ADMIN_LOCKOUT_FAILURES", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "apps.core.client_address.client_address"
AXES_RESET_ON_SUCCESS = True
# The cache handler keeps nothing in axes' tables: its admin pages would only ever be empty.
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False

# --- I18n, static, media ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

ADMIN_URL = "admin/" if ALL_IN_ONE else SERVICES[SERVICE].admin_prefix
# Split shape: every service's admin is on one host, each with its own staff sessions. Cookies per
# service (name and path) let staff work in several admins at once; with one shared "sessionid",
# opening one admin dropped (and cleared) the session of another. The API is stateless (JWT), so
# only the admin uses these cookies.
# Signing in once (apps/core/staff_handoff.py): users' admin signs a hand-off, valid this many
# seconds and once, that another admin redeems. The key must be the same in every service; empty
# means SECRET_KEY (then the services must share it).
STAFF_HANDOFF_KEY = env_str("STAFF_HANDOFF_KEY", "")
STAFF_HANDOFF_MAX_AGE = env_int("STAFF_HANDOFF_MAX_AGE", 60)
if not ALL_IN_ONE:
    SESSION_COOKIE_NAME = f"{SERVICE}_sessionid"
    CSRF_COOKIE_NAME = f"{SERVICE}_csrftoken"
    SESSION_COOKIE_PATH = CSRF_COOKIE_PATH = f"/{ADMIN_URL}"
STATIC_URL = "/static/" if ALL_IN_ONE else f"/static/{SERVICE}/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- Cache (throttling, idempotency windows) --------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "") or None
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}
# Without REDIS_URL (one local process) a per-process cache counts admin sign-ins correctly;
# production refuses to start without the shared one.
SILENCED_SYSTEM_CHECKS = [] if REDIS_URL else ["axes.W001"]

# --- REST API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["apps.core.api.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only, in every shape: errors are problem bodies whatever the client accepts (the
    # browsable API rendered them as HTML). The docs pages (/api/v1/<service>/docs/) explore it.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "apps.core.api.negotiation.LenientContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["apps.core.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "apps.core.api.schema.ServiceAutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exceptions.problem_exception_handler",
    # Every unauthenticated write and every credential check has a scope here (THROTTLE_<SCOPE>
    # overrides it); per client address (apps.core.client_address), per account where the scope
    # ends in _account or the caller is signed in. docs/security.md lists them.
    "DEFAULT_THROTTLE_RATES": {
        scope: env_str(f"THROTTLE_{scope.upper()}", rate)
        for scope, rate in {
            "login": "10/minute",
            "register": "10/hour",
            "password_reset": "5/hour",
            "password_reset_account": "3/hour",
            "password_reset_confirm": "20/hour",
            "password_change": "10/hour",
            "token": "120/minute",
            "cart_create": "30/hour",
            "cart_write": "120/minute",
            "payments_webhook": "600/minute",
            # The shopper's return from 3-D Secure (and the sandbox's bank page): per address.
            "payment_return": "60/minute",
            # Paying an order again with another method: per shopper (each one is a card check).
            "payment_attempt": "10/hour",
            "phone_verification": "5/hour",
            "phone_confirm": "10/hour",
            "email_verification": "5/hour",
            "email_verify": "20/hour",
            "checkout": "20/hour",
            "guest_checkout": "10/hour",
            "guest_checkout_account": "5/hour",
        }.items()
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "ShopStack API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Input limits --------------------------------------------------------------------------------
# A request body (JSON or form) larger than this is refused with 413 before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("API_MAX_BODY_BYTES", 1024 * 1024)
# JSON nested deeper than this is refused with 400: no endpoint takes more than a few levels,
# and recursive code (serializers, encoders) would otherwise meet the whole depth.
API_MAX_JSON_DEPTH = env_int("API_MAX_JSON_DEPTH", 32)

# --- CORS ----------------------------------------------------------------------------------------
# Browser storefronts on other origins that may call the API, e.g. https://shop.example.com
# (scheme and host, comma-separated). Empty: no cross-origin calls. Tokens travel in the
# Authorization header, never in cookies, so credentials are not allowed cross-origin.
CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_URLS_REGEX = r"^/(api|\.well-known)/.*$"
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = [
    "accept",
    "authorization",
    "content-type",
    "idempotency-key",
    "if-none-match",
    "x-cart-token",
    "x-request-id",
    "x-trace-id",
]
CORS_EXPOSE_HEADERS = ["ETag", "Retry-After", "X-Request-ID", "X-Trace-ID"]

# --- Tokens (JWT, RS256) ----------------------------------------------------------------------
# users signs with JWT_PRIVATE_KEY; every service verifies with JWT_PUBLIC_KEYS (a JWKS document
# or PEM keys), locally. Without either, a development key is generated once under VAR_DIR.
JWT_ISSUER = env_str("JWT_ISSUER", local_url())
JWT_AUDIENCE = env_str("JWT_AUDIENCE", "shopstack")
JWT_PRIVATE_KEY = env_str("JWT_PRIVATE_KEY", "") or None
JWT_PUBLIC_KEYS = env_str("JWT_PUBLIC_KEYS", "") or None
JWT_DEV_KEY_PATH = VAR_DIR / "keys" / "jwt-dev-private.pem"
JWT_ALLOW_DEV_KEY = True
JWT_ACCESS_TOKEN_SECONDS = env_int("JWT_ACCESS_TOKEN_SECONDS", 15 * 60)
JWT_REFRESH_TOKEN_SECONDS = env_int("JWT_REFRESH_TOKEN_SECONDS", 14 * 24 * 3600)
JWT_LEEWAY_SECONDS = env_int("JWT_LEEWAY_SECONDS", 10)
# How long a service trusts its cached "tokens of this subject issued before T are refused"
# (apps/core/auth/revocation.py). The worker applying a revocation overwrites the entry, so with
# the shared Redis the bound is the event's delivery time; with a cache per process (no
# REDIS_URL) add this TTL.
AUTH_REVOCATION_CACHE_SECONDS = env_int("AUTH_REVOCATION_CACHE_SECONDS", 30)

# --- Logging -----------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOG_FORMAT = env_str("LOG_FORMAT", "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "apps.core.logging.ContextFilter"}},
    "formatters": {
        "json": {"()": "apps.core.logging.JSONFormatter"},
        "plain": {
            "()": "apps.core.logging.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT if LOG_FORMAT in {"json", "plain"} else "json",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # A line for every task that succeeded, in every worker, beside the "received" line and
        # the events' own "handled ..." lines: the spans time each run. Failures still log (ERROR).
        "celery.app.trace": {"level": "WARNING"},
    },
}

# --- Tracing (apps/core/tracing.py) ------------------------------------------------------------
# Where spans go: otlp (deployed: the ADOT collector at OTEL_EXPORTER_OTLP_ENDPOINT sends them to
# X-Ray), file (local: JSON lines under TRACING_FILE_DIR, read by `manage.py trace`), console,
# memory (tests) or none. Sampling comes from the standard OTEL_TRACES_SAMPLER(_ARG) variables.
TRACING_EXPORTER = env_str("TRACING_EXPORTER", "none")
TRACING_FILE_DIR = Path(env_str("TRACING_FILE_DIR", str(VAR_DIR / "log" / "traces")))
# The service as X-Ray's trace map names it: shopstack-<service>, or shopstack all-in-one.
TRACING_SERVICE_NAME = env_str("OTEL_SERVICE_NAME", f"shopstack-{SERVICE}" if SERVICE else "shopstack")
# Paths (regular expressions, comma-separated) that are never traced: load balancer health checks.
TRACING_EXCLUDED_URLS = env_str("TRACING_EXCLUDED_URLS", "health/")

# --- Email ---------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "ShopStack <shop@example.com>")

# --- Public URLs --------------------------------------------------------------------------------
# Where shoppers land from links in emails (password reset, order pages).
SHOP_FRONTEND_URL = env_str("SHOP_FRONTEND_URL", local_url())
# The shop as its emails name it (the sender's name and postal address, which EU law wants in
# commercial emails).
SHOP_NAME = env_str("SHOP_NAME", "ShopStack")
SHOP_ADDRESS = env_str("SHOP_ADDRESS", "")

# --- Event sealing ------------------------------------------------------------------------------
# Keys sealing secrets inside event payloads (apps/core/sealing.py: the password reset and email
# verification links, a guest order's access token), held only by users and orders (seal) and
# notifications (opens). Comma-separated; the first seals, all open.
# Locally they default to the (shared, development) secret key; production requires them.
EVENT_SEALING_KEYS = env_list("EVENT_SEALING_KEYS", [SECRET_KEY])

# --- Events, AWS, Celery (config/settings/messaging.py) -----------------------------------------
from config.settings.messaging import *  # noqa: E402

# --- Per-service settings ----------------------------------------------------------------------
from config.settings.service_settings.catalog import *  # noqa: E402
from config.settings.service_settings.notifications import *  # noqa: E402
from config.settings.service_settings.orders import *  # noqa: E402
from config.settings.service_settings.payments import *  # noqa: E402
from config.settings.service_settings.users import *  # noqa: E402

# Periodic work of the services this process runs (Celery beat).
if "users" in ACTIVE_SERVICES:
    CELERY_BEAT_SCHEDULE.update(USERS_CELERY_BEAT_SCHEDULE)
if "payments" in ACTIVE_SERVICES:
    CELERY_BEAT_SCHEDULE.update(PAYMENTS_CELERY_BEAT_SCHEDULE)
if "orders" in ACTIVE_SERVICES:
    CELERY_BEAT_SCHEDULE.update(ORDERS_CELERY_BEAT_SCHEDULE)
    SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"] = ORDERS_ENUM_NAME_OVERRIDES
