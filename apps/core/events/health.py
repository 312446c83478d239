"""Readiness check for the split shape: this service's SQS queue answers."""

from __future__ import annotations

import logging

from django.conf import settings

from apps.core.aws import client
from config.services import SERVICES

logger = logging.getLogger(__name__)


def check_broker() -> dict[str, str]:
    if not settings.SERVICE:
        return {}
    name = settings.AWS_RESOURCE_PREFIX + SERVICES[settings.SERVICE].queue
    try:
        client("sqs", fast_fail=True).get_queue_url(QueueName=name)
    except Exception as error:  # a failed probe is the answer, not a crash
        logger.warning("readiness: queue %s unavailable: %s", name, error)
        return {f"queue:{name}": "unavailable"}
    return {f"queue:{name}": "ok"}
