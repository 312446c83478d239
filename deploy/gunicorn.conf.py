"""gunicorn settings for the `web` role (deploy/entrypoint.py runs `gunicorn -c deploy/gunicorn.conf.py`).

The timeouts are tied to the load balancer and to ECS, and tests/deploy checks them against the
CloudFormation templates:
- keepalive is longer than the ALB idle timeout, so the ALB (not gunicorn) always closes an idle
  connection; the other way round the ALB may send a request on a socket gunicorn just closed (502).
- graceful_timeout is shorter than the ECS stopTimeout, so in-flight requests finish and the
  workers exit before ECS follows SIGTERM with SIGKILL.
"""

from __future__ import annotations

import os

# Values the templates use (deploy/cloudformation/platform.yaml and service.yaml).
ALB_IDLE_TIMEOUT_SECONDS = 60
ECS_STOP_TIMEOUT_SECONDS = 30

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Threads: most request time is spent waiting on PostgreSQL and AWS APIs.
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 75
graceful_timeout = 25
# A request taking longer than this is stuck; the worker is replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# The heartbeat file lives in memory: a disk-backed /tmp can stall workers on slow volumes, and the
# root filesystem is read-only in the task definition.
worker_tmp_dir = "/dev/shm"  # noqa: S108 (tmpfs, private to the container)
# Recycle workers now and then so a slow leak never takes a task down.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = 200
# The ALB sets X-Forwarded-For/-Proto; only it can reach the task (security group).
forwarded_allow_ips = "*"
proxy_allow_ips = "*"
control_socket_disable = True

accesslog = "-"
errorlog = "-"
# Escapes every value for JSON and redacts card numbers (deploy/gunicorn_logging.py).
logger_class = "deploy.gunicorn_logging.RedactingJsonLogger"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
# One JSON object per request, next to the app's own JSON logs (request id from the middleware's
# header). No query string: it can carry credentials.
access_log_format = (
    '{"logger": "gunicorn.access", "remote_ip": "%({x-forwarded-for}i)s", "method": "%(m)s", '
    '"path": "%(U)s", "status": %(s)s, "bytes": "%(B)s", "duration_ms": %(M)s, '
    '"request_id": "%({x-request-id}o)s", "user_agent": "%(a)s"}'
)
