"""Django's PostgreSQL backend with per-request costs taken out, for every service:

- **timestamptz read by psycopg's C loader.** Django loads timestamptz with a pure-Python
  subclass of psycopg's loader (Django ticket #36960): about 8 us a value, an eighth of the
  catalog list's Python time for its 20 rows. Django sets every session's TimeZone to UTC
  (USE_TZ), and psycopg's own loader (its C one with psycopg-binary) then gives the same aware
  datetimes in `datetime.timezone.utc`; so when Django's time zone for the connection is UTC,
  the connection's adapters load timestamptz with psycopg's loader. Any other time zone keeps
  Django's loader.
- **The per-request health check skipped for a connection in recent use**, if asked for
  (DATABASE_HEALTH_CHECK_IDLE_SECONDS above 0; 0 by default). With
  CONN_HEALTH_CHECKS Django sends `SELECT 1` before the first query of every request: a round
  trip, and the GIL handed over while waiting. A connection that ran a query less than
  DATABASE_HEALTH_CHECK_IDLE_SECONDS ago is taken as alive; one idle longer is checked as
  before. A connection broken in that window (a server restart, a failover) fails the one
  request that meets it, and Django closes it at that request's end (errors_occurred), so the
  next gets a new one. 0 checks before every request, as Django does.
- **The health check is in no trace.** Its `SELECT 1` is the connection's housekeeping, not the
  request's work: with tracing on, it would be a span in every recorded request (a third of the
  catalog list's spans, each encoded and exported).

The second is opt-in because a worker's task after a failover must get a new connection, not
fail (tests/core/test_task_connections.py), and the round trip it saves is small (measured in
docs/benchmarks.md).
"""

from __future__ import annotations

import datetime
import functools
import time
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base as postgresql
from opentelemetry.instrumentation.utils import suppress_instrumentation

try:
    import psycopg
    from django.db.backends.postgresql.psycopg_any import get_adapters_template, register_tzloader
except ImportError:  # psycopg2: Django's behaviour, unchanged
    psycopg = None


@functools.cache
def _psycopg_timestamptz_loader() -> type:
    """psycopg's own timestamptz loader: its C one with psycopg-binary."""
    return psycopg.adapters.get_loader(psycopg.postgres.types["timestamptz"].oid, psycopg.pq.Format.TEXT)


@functools.cache
def _utc_adapters(use_tz: bool) -> Any:
    """Django's adapters for a UTC connection, timestamptz loaded by psycopg's own loader."""
    adapters = psycopg.adapt.AdaptersMap(get_adapters_template(use_tz, datetime.UTC))
    adapters.register_loader("timestamptz", _psycopg_timestamptz_loader())
    return adapters


class DatabaseWrapper(postgresql.DatabaseWrapper):
    _last_used = float("-inf")  # time.monotonic() of the connection's last cursor

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        if psycopg is not None and self.timezone is datetime.UTC and self.timezone_name == "UTC":
            params["context"] = _utc_adapters(settings.USE_TZ)
        return params

    def create_cursor(self, name: str | None = None) -> Any:
        self._last_used = time.monotonic()
        if (
            psycopg is None
            or self.connection.adapters.get_loader(postgresql.TIMESTAMPTZ_OID, psycopg.pq.Format.TEXT)
            is not _psycopg_timestamptz_loader()
        ):
            return super().create_cursor(name)
        # Django's create_cursor reads the loader's `timezone`, which psycopg's C class has not
        # (and, being final, cannot be given by a subclass): the same cursors, made here.
        if not name:
            cursor = self.connection.cursor()
        elif self.settings_dict["OPTIONS"].get("server_side_binding") is not True:
            cursor = postgresql.ServerSideCursor(
                self.connection, name=name, scrollable=False, withhold=self.connection.autocommit
            )
        else:
            cursor = self.connection.cursor(name, scrollable=False, withhold=self.connection.autocommit)
        if self.timezone is not datetime.UTC:  # the settings changed since the connection opened (tests)
            register_tzloader(self.timezone, cursor)
        return cursor

    def close_if_health_check_failed(self) -> None:
        idle_seconds = getattr(settings, "DATABASE_HEALTH_CHECK_IDLE_SECONDS", 0)
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.errors_occurred
            and time.monotonic() - self._last_used < idle_seconds
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def is_usable(self) -> bool:
        with suppress_instrumentation():
            return super().is_usable()
