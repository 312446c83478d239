"""Settings for the benchmark server: the ordinary settings of the shape chosen by the
environment (SERVICE=catalog, DATABASE_URL), with a URLconf that adds one bare JSON view."""

from config.settings.local import *  # noqa: F403

ROOT_URLCONF = "bench.bare_urls"
