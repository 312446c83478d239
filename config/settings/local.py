"""Local development: the all-in-one shop with embedded defaults (SQLite, console email, disk)."""

from config.settings.base import *
from config.settings.env import env_bool, env_str

DEBUG = env_bool("DJANGO_DEBUG", True)
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
LOGGING["handlers"]["console"]["formatter"] = LOG_FORMAT
ALLOWED_HOSTS = ["*"]
# Spans to files under var/log/traces, for `manage.py trace` (apps/core/tracing.py).
TRACING_EXPORTER = env_str("TRACING_EXPORTER", "file")

# The embedded SQLite databases live in a git-ignored folder, made on first run.
(VAR_DIR / "db").mkdir(parents=True, exist_ok=True)
