"""Events, AWS and Celery: how this process publishes and receives events and runs its tasks, in
each shape (in process all-in-one; SNS, SQS and Celery split). Imported by base.py."""

from __future__ import annotations

from config.services import SERVICES
from config.settings.env import env_bool, env_int, env_list, env_str
from config.settings.shape import ALL_IN_ONE, SERVICE

# --- Events ------------------------------------------------------------------------------------
# In-process delivery all-in-one; SNS -> SQS -> Celery in the split shape.
EVENT_TRANSPORT = env_str(
    "EVENT_TRANSPORT",
    "apps.core.events.transport.InProcessTransport" if ALL_IN_ONE else "apps.core.events.sns.SnsTransport",
)

# --- AWS -----------------------------------------------------------------------------------------
AWS_REGION = env_str("AWS_REGION", env_str("AWS_DEFAULT_REGION", "us-east-1"))
AWS_ENDPOINT_URL = env_str("AWS_ENDPOINT_URL", "") or None
AWS_SNS_ENDPOINT_URL = env_str("AWS_SNS_ENDPOINT_URL", "") or None
AWS_SQS_ENDPOINT_URL = env_str("AWS_SQS_ENDPOINT_URL", "") or None
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL", "") or None
AWS_SES_ENDPOINT_URL = env_str("AWS_SES_ENDPOINT_URL", "") or None
# Prefix for every queue and topic name, so several stacks (or test runs) share one account.
AWS_RESOURCE_PREFIX = env_str("AWS_RESOURCE_PREFIX", "")
# SMS through SNS Publish (apps/core/sms.py; notifications' texts and users' verification codes).
# Type "Transactional" (delivery priority) or "Promotional"; an alphanumeric sender id shown where
# the destination country supports it, empty for none.
SMS_TYPE = env_str("SMS_TYPE", "Transactional")
SMS_SENDER_ID = env_str("SMS_SENDER_ID", "")
EVENTS_TOPIC_NAME = env_str("EVENTS_TOPIC_NAME", "shopstack-events")

# --- Celery ------------------------------------------------------------------------------------
# All-in-one runs tasks in-process after commit; the split shape sends them to the service's own
# SQS queue. kombu takes the SQS endpoint from the broker URL's host, so locally
# CELERY_BROKER_URL=sqs://x:y@127.0.0.1:<moto port> points it at the moto server.
TASKS_RUN_IN_PROCESS = env_bool("TASKS_RUN_IN_PROCESS", ALL_IN_ONE)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "memory://")
# Over SQS, kombu's transport with batched acknowledgements (DeleteMessageBatch, apps/core/sqs.py).
CELERY_BROKER_TRANSPORT = "apps.core.sqs:Transport" if CELERY_BROKER_URL.startswith("sqs://") else None
CELERY_TASK_DEFAULT_QUEUE = SERVICES[SERVICE].queue if SERVICE else "shopstack"
CELERY_TASK_ACKS_LATE = True  # a task is removed from the queue only once it has finished
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Messages a worker holds per thread (invisible to other workers until acked or timed out). 1
# kept each worker waiting on an SQS round trip after every task: the checkout saga confirmed
# 3.3 orders/s on the benchmark stack with the machine half idle; 4 gave 5.5/s (docs/benchmarks.md).
# Tasks are short, so the few messages held back behind a slow one wait little.
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 4)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# stdout stays stdout: the embedded-metric lines (apps/core/metrics.py) must reach the log driver
# as they are, not wrapped in a log record by Celery's redirect (CloudWatch would not read them).
CELERY_WORKER_REDIRECT_STDOUTS = False
# A task this worker does not know (a newer release's) or cannot read goes back to its queue for
# the retry backoff, never deleted: after EVENTS_MAX_RECEIVES receives SQS moves it to the DLQ.
CELERY_WORKER_CONSUMER = "apps.core.worker:Consumer"
# The longest task (a provider call with retries, a bulk send) finishes well inside this; a
# retry countdown must stay shorter than it, or SQS redelivers the message while it waits.
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 300)
CELERY_MAX_RETRY_COUNTDOWN = CELERY_VISIBILITY_TIMEOUT // 2
CELERY_WORKER_ENABLE_REMOTE_CONTROL = False  # SQS has no broadcast; no pidbox queues
# Celery's Django fixup closes every database connection before and after each task unless this
# is set, and then every this-many tasks: a new PostgreSQL connection (a backend started, the
# session set up) for every event. Workers keep their connections as the web processes do instead:
# DATABASE_CONN_MAX_AGE and the health check, applied around each task by apps.core.tasks
# (docs/benchmarks.md, checkout CPU).
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_TASK_SEND_SENT_EVENT = False
# After this many receives SQS moves a message to the service's dead-letter queue.
EVENTS_MAX_RECEIVES = env_int("EVENTS_MAX_RECEIVES", 5)
# Seconds a failed event waits before its next attempt, by receive count (SQS visibility).
EVENTS_RETRY_BACKOFF = dict(
    enumerate((int(seconds) for seconds in env_list("EVENTS_RETRY_BACKOFF", ["2", "10", "30", "60", "120"])), start=1)
)
EVENTS_TOPIC_ARN = env_str("EVENTS_TOPIC_ARN", "") or None
AWS_ACCOUNT_ID = env_str("AWS_ACCOUNT_ID", "123456789012")
OUTBOX_SWEEP_SECONDS = env_int("OUTBOX_SWEEP_SECONDS", 5)
# The after-commit relay pass on a thread of its own (apps.core.events.outbox.BackgroundRelay), so
# a shopper's request or a worker's task never waits for SNS; commits meanwhile share its next pass
# (one PublishBatch). All-in-one it stays in line: the in-process transport runs the handlers.
EVENTS_RELAY_IN_BACKGROUND = env_bool("EVENTS_RELAY_IN_BACKGROUND", not ALL_IN_ONE)
# Application metrics as CloudWatch embedded-metric lines on stdout (apps/core/metrics.py): the
# sweep's OutboxOldestUnsentAge. The deployment templates turn it on.
METRICS_EMBEDDED = env_bool("METRICS_EMBEDDED", False)
# Retention of event rows (apps/core/events/retention.py), pruned every EVENTS_PRUNE_SECONDS:
# sent outbox rows (replay_events can resend them until then), and inbox rows, which must outlive
# every redelivery (a DLQ keeps a message 14 days) and every replay (system check core.E003).
OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 7)
INBOX_RETENTION_DAYS = env_int("INBOX_RETENTION_DAYS", 30)
EVENTS_PRUNE_SECONDS = env_int("EVENTS_PRUNE_SECONDS", 3600)


def _queue_url(name: str) -> str:
    endpoint = AWS_SQS_ENDPOINT_URL or AWS_ENDPOINT_URL or f"https://sqs.{AWS_REGION}.amazonaws.com"
    return f"{endpoint.rstrip('/')}/{AWS_ACCOUNT_ID}/{AWS_RESOURCE_PREFIX}{name}"


def _predefined_queues() -> dict:
    if not SERVICE:
        return {}
    queue = {
        "url": _queue_url(SERVICES[SERVICE].queue),
        "backoff_policy": EVENTS_RETRY_BACKOFF,
        "backoff_tasks": ["apps.core.events.handle_event"],
    }
    # Events arrive through SNS with the routing key "events" (one message, many queues); each
    # worker maps that key to its own queue. Queues are provisioned from the declarations
    # (manage.py provision_aws), never created by a worker.
    return {SERVICES[SERVICE].queue: queue, "events": queue}


CELERY_BROKER_TRANSPORT_OPTIONS = {
    "region": AWS_REGION,
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "wait_time_seconds": env_int("CELERY_SQS_WAIT_TIME_SECONDS", 5),
    "polling_interval": 0.5,
    "predefined_queues": _predefined_queues(),
}
READINESS_CHECKS = [] if ALL_IN_ONE else ["apps.core.events.health.check_broker"]
CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {"task": "apps.core.relay_outbox", "schedule": OUTBOX_SWEEP_SECONDS},
    "prune-events": {"task": "apps.core.prune_events", "schedule": EVENTS_PRUNE_SECONDS},
}
