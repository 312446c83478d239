"""Tests: PostgreSQL, one database per service alias (created by pytest-django), fast hashing."""

import os

from config.settings.base import *
from config.settings.base import _database
from config.settings.env import env_str

_PG = env_str("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# Distinct prefixes let several test runs share one PostgreSQL server without clobbering.
_PREFIX = env_str("TEST_DB_PREFIX", "shopstack")

for _alias, _config in DATABASES.items():
    if _config["ENGINE"] == "django.db.backends.sqlite3" and "TEST_USE_SQLITE" not in os.environ:
        _config.update(_database(_PG))
        _config["NAME"] = f"{_PREFIX}_{_alias}"
    _config["CONN_MAX_AGE"] = 0
    _config["CONN_HEALTH_CHECKS"] = False
    _config["TEST"] = {"NAME": f"test_{_PREFIX}_{_alias}"}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOG_FORMAT = "plain"
# Spans kept in memory (apps.core.tracing.memory_exporter) for the tracing tests to read.
TRACING_EXPORTER = env_str("TRACING_EXPORTER", "memory")
LOGGING["handlers"]["console"]["formatter"] = "plain"
LOGGING["root"]["level"] = "WARNING"
# Every scope stays throttled (its rate is read, the counter kept) but high, so tests of other
# behaviour never trip it; the throttling tests set each scope low (override_settings).
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = dict.fromkeys(REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "1000/minute")
# Static files as local development serves them (DEBUG's WhiteNoise defaults): found in the apps
# through Django's finders, so tests need no collectstatic. Without autorefresh WhiteNoise scans
# STATIC_ROOT, which exists only in the image, and warns "No directory at" for every client.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
