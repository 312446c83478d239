"""boto3 clients whose endpoints come from settings, so the same code talks to the moto server
locally and to AWS in production (AWS_ENDPOINT_URL, or AWS_<SERVICE>_ENDPOINT_URL per client)."""

from __future__ import annotations

from functools import cache

import boto3
from botocore.config import Config
from django.conf import settings


@cache
def client(service_name: str, *, fast_fail: bool = False):
    """A cached boto3 client. `fast_fail` is for calls on a request's path (the outbox relay after
    commit): short timeouts, no retries, because the periodic sweep is the retry."""
    endpoint = getattr(settings, f"AWS_{service_name.upper()}_ENDPOINT_URL", None) or settings.AWS_ENDPOINT_URL
    config = (
        Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1, "mode": "standard"})
        if fast_fail
        else Config(connect_timeout=3, read_timeout=10, retries={"max_attempts": 4, "mode": "standard"})
    )
    return boto3.client(
        service_name,
        region_name=settings.AWS_REGION,
        endpoint_url=endpoint,
        config=config,
    )
