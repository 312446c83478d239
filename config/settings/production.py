"""Production: nothing insecure by default. Refuses to start on a development or weak secret (also
the payments webhook secret), DEBUG or open allowed hosts, a development email backend or sender,
a local address where another machine must be named (catalog's API for orders, the shop front end
in links), a CORS origin over plain HTTP, or without the shared cache (REDIS_URL, over TLS);
redirects HTTP to HTTPS and sends HSTS, so `manage.py check --deploy` finds nothing to warn about;
expects PostgreSQL, SQS, SNS, S3, SES and ElastiCache from the environment."""

import ipaddress
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *
from config.settings.env import env_bool, env_int, env_list, env_str

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [])
JWT_ALLOW_DEV_KEY = False
# Spans to the ADOT collector beside the process (OTLP over HTTP), which sends them to X-Ray.
TRACING_EXPORTER = env_str("TRACING_EXPORTER", "otlp")
if "notifications" in ACTIVE_SERVICES:
    # Shopper email goes out through Amazon SES unless the environment names another real backend.
    EMAIL_BACKEND = env_str("EMAIL_BACKEND", "apps.notifications.backends.SESEmailBackend")

# Backends that deliver nothing: fine on a laptop, a silent loss of every email in production.
_UNDELIVERED_EMAIL_BACKENDS = {
    f"django.core.mail.backends.{name}.EmailBackend" for name in ("console", "locmem", "dummy", "filebased")
}


def _is_local(url: str) -> bool:
    """True for a URL only this machine can reach (localhost, a loopback or unspecified address)."""
    host = (urlsplit(url).hostname or "").lower()
    if host in {"", "localhost"} or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


_problems = []
if DEBUG:
    _problems.append("DJANGO_DEBUG must be off")
# Django's own measure of a real key (security.W009): 50+ characters, 5+ distinct ones.
if SECRET_KEY.startswith(("insecure", "django-insecure")) or len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    _problems.append("DJANGO_SECRET_KEY must be a real secret of 50+ characters")
if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
    _problems.append("DJANGO_ALLOWED_HOSTS must list the served host names (no '*')")
if any(db["ENGINE"].endswith("sqlite3") for db in DATABASES.values()):
    _problems.append("DATABASE_URL must point at PostgreSQL")
if SERVICE == "users" and not JWT_PRIVATE_KEY:
    _problems.append("JWT_PRIVATE_KEY must be set for the users service")
if not JWT_PUBLIC_KEYS and not JWT_PRIVATE_KEY:
    _problems.append("JWT_PUBLIC_KEYS must be set so tokens can be verified")
# A provider webhook is trusted on its signature alone: with a guessable secret anyone could
# report charges as refunded or failed. While rotating, every listed secret must be real.
if "payments" in ACTIVE_SERVICES and any(
    secret.strip().startswith("insecure") or len(secret.strip()) < 32 for secret in PAYMENTS_WEBHOOK_SECRET.split(",")
):
    _problems.append("PAYMENTS_WEBHOOK_SECRET must be a real secret of 32+ characters (each one, while rotating)")
# The sandbox takes no money: a shop running it by mistake would ship goods for free.
_is_sandbox = PAYMENTS_PROVIDER.rsplit(".", 1)[-1].lower() in {"sandbox", "sandboxprovider"}
if "payments" in ACTIVE_SERVICES and _is_sandbox and not PAYMENTS_ALLOW_SANDBOX:
    _problems.append("PAYMENTS_PROVIDER is the sandbox: set it to stripe, or PAYMENTS_ALLOW_SANDBOX=true")
# The bank sends the shopper back here after 3-D Secure: the public API origin, over TLS (the
# default is the local shop's address, which no shopper's browser reaches).
if "payments" in ACTIVE_SERVICES and not PAYMENTS_RETURN_URL.startswith("https://"):
    _problems.append("PAYMENTS_RETURN_URL must be the public https address of /api/v1/payments/return/")
if "payments" in ACTIVE_SERVICES and PAYMENTS_PROVIDER == "stripe":
    if not STRIPE_SECRET_KEY.startswith(("sk_live_", "rk_live_", "sk_test_", "rk_test_")) or "insecure" in (
        STRIPE_SECRET_KEY
    ):
        _problems.append("STRIPE_SECRET_KEY must be a Stripe secret or restricted key")
    if any(
        not secret.strip().startswith("whsec_") or "insecure" in secret or len(secret.strip()) < 32
        for secret in STRIPE_WEBHOOK_SECRET.split(",")
    ):
        _problems.append("STRIPE_WEBHOOK_SECRET must be the webhook endpoint's signing secret (whsec_...)")
if "notifications" in ACTIVE_SERVICES and EMAIL_BACKEND in _UNDELIVERED_EMAIL_BACKENDS:
    _problems.append(f"EMAIL_BACKEND must deliver email ({EMAIL_BACKEND} does not; unset it for SES)")
if "notifications" in ACTIVE_SERVICES and not (NOTIFICATIONS_FROM_EMAIL or env_str("DEFAULT_FROM_EMAIL", "")):
    _problems.append("DEFAULT_FROM_EMAIL (or NOTIFICATIONS_FROM_EMAIL) must be set to a sender SES has verified")
# Split, orders reaches catalog over the network; all-in-one, catalog is this very process.
if SERVICE == "orders" and _is_local(CATALOG_API_URL):
    _problems.append("CATALOG_API_URL must be catalog's address, not a local one, for the orders service")
if {"users", "notifications"} & set(ACTIVE_SERVICES) and _is_local(SHOP_FRONTEND_URL):
    _problems.append("SHOP_FRONTEND_URL must be the shop's public address (links in emails point there)")
# The reset and verification links and a guest order's access token travel sealed
# (apps/core/sealing.py); users, orders and notifications must hold the same real keys, never the
# default (the per-service secret key).
EVENT_SEALING_KEYS = env_list("EVENT_SEALING_KEYS", [])
if {"users", "orders", "notifications"} & set(ACTIVE_SERVICES) and (
    not EVENT_SEALING_KEYS or any(key.startswith("insecure") or len(key) < 32 for key in EVENT_SEALING_KEYS)
):
    _problems.append("EVENT_SEALING_KEYS must be real secrets of 32+ characters for users, orders and notifications")
# Without a shared cache each gunicorn process keeps its own (LocMemCache): the login, register
# and password reset throttles would count per process, the real limit being the configured one
# times tasks x workers, and nothing else kept in Django's cache would be shared either. The
# deployed cache (ElastiCache Serverless) accepts TLS only, hence rediss://.
if not REDIS_URL or _is_local(REDIS_URL):
    _problems.append(
        "REDIS_URL must name the shared cache (rediss://<host>:6379/0), not a local one: with a cache per"
        " process (or per machine) the login/register/password-reset throttles count per process (the limit"
        " times tasks x workers) and nothing else in Django's cache is shared"
    )
elif urlsplit(REDIS_URL).scheme != "rediss":
    _problems.append("REDIS_URL must use TLS (rediss://): the deployed cache accepts nothing else")
# A storefront allowed to call the API from the browser is itself served over HTTPS; an http://
# origin would let a network attacker's page act with the shopper's tokens.
_plain_origins = [origin for origin in CORS_ALLOWED_ORIGINS if not origin.startswith("https://")]
if _plain_origins:
    _problems.append(f"CORS_ALLOWED_ORIGINS must list https:// origins only (not {', '.join(_plain_origins)})")
if AWS_ACCOUNT_ID == "123456789012":
    _problems.append("AWS_ACCOUNT_ID must be the real account (queue URLs are built from it)")
if _problems:
    raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(_problems) + ".")

# API Gateway (HTTP API) appends the client's address to X-Forwarded-For and the ALB behind its
# VPC link appends the gateway's: the client is 2 entries from the right.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 2)

# HTTPS. The load balancer ends TLS and sets X-Forwarded-Proto (it overwrites a client's), so
# that header says whether the client's request was secure; plain HTTP is redirected to HTTPS and
# HTTPS answers carry HSTS (a year, subdomains, preload-ready). Load balancer and container health
# checks come over plain HTTP with the task's IP as Host: HealthCheckMiddleware answers them ahead
# of SecurityMiddleware and of host validation, and the exemption keeps them unredirected should
# that order ever change. Orders' price lookup reaches catalog inside the VPC over plain HTTP, by
# ECS Service Connect (http://catalog:8000) or on the all-in-one task's loopback, with no load
# balancer to set the header: a redirect would send it to an https:// nobody answers, and every
# checkout would fail as "catalog unavailable". That lookup (public catalog data, no credentials)
# is exempt; shoppers reach it only through the HTTPS entry like everything else.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^api/v1/catalog/variants/$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}
# Catalog's rendered answers are kept 15 s in each process (apps/core/api/caching.py), so at most
# 30 s old: within the public max-age of 60 s they already carry. Why 15 and not 5: a category
# page costs ~4 ms of CPU to render, and at 5 s refreshing the shop's pages in every process
# took a quarter of the benchmark machine (docs/benchmarks.md).
CATALOG_RESPONSE_CACHE_SECONDS = env_int("CATALOG_RESPONSE_CACHE_SECONDS", 15)
# The services share one cache: each keeps its keys under its own name.
CACHES["default"]["KEY_PREFIX"] = SERVICE or "shopstack"
