"""Production: nothing insecure by default. Refuses to start on a development secret, DEBUG or
open allowed hosts; expects PostgreSQL, SQS, SNS, S3 and SES from the environment."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *
from config.settings.env import env_bool, env_int, env_list, env_str

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", [])
JWT_ALLOW_DEV_KEY = False

_problems = []
if DEBUG:
    _problems.append("DJANGO_DEBUG must be off")
if SECRET_KEY.startswith("insecure") or len(SECRET_KEY) < 32:
    _problems.append("DJANGO_SECRET_KEY must be a real secret of 32+ characters")
if not ALLOWED_HOSTS or "*" in ALLOWED_HOSTS:
    _problems.append("DJANGO_ALLOWED_HOSTS must list the served host names (no '*')")
if any(db["ENGINE"].endswith("sqlite3") for db in DATABASES.values()):
    _problems.append("DATABASE_URL must point at PostgreSQL")
if SERVICE == "users" and not JWT_PRIVATE_KEY:
    _problems.append("JWT_PRIVATE_KEY must be set for the users service")
if not JWT_PUBLIC_KEYS and not JWT_PRIVATE_KEY:
    _problems.append("JWT_PUBLIC_KEYS must be set so tokens can be verified")
if AWS_ACCOUNT_ID == "123456789012":
    _problems.append("AWS_ACCOUNT_ID must be the real account (queue URLs are built from it)")
if _problems:
    raise ImproperlyConfigured("Refusing to start in production: " + "; ".join(_problems) + ".")

# Load balancer health checks arrive with the task's IP as Host; HealthCheckMiddleware answers
# them before host validation, so ALLOWED_HOSTS stays strict.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}
