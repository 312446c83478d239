"""The client address every throttle, lockout and request log keys on: from the trusted proxy
hops only, never from what the client wrote into X-Forwarded-For."""

from __future__ import annotations

import logging

import pytest
from django.test import RequestFactory, override_settings

from apps.core.client_address import client_address


def _request(remote: str = "10.0.0.9", forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


@override_settings(TRUSTED_PROXY_COUNT=0)
def test_without_trusted_proxies_the_header_is_ignored():
    assert client_address(_request(forwarded="203.0.113.7")) == "10.0.0.9"


@pytest.mark.parametrize(
    ("hops", "forwarded", "client"),
    [
        (1, "198.51.100.1", "198.51.100.1"),
        # The client wrote the entries on the left; only the proxies' own are trusted.
        (1, "1.2.3.4, 5.6.7.8, 198.51.100.1", "198.51.100.1"),
        (2, "1.2.3.4, 198.51.100.1, 10.0.1.5", "198.51.100.1"),
        (2, "198.51.100.1,10.0.1.5", "198.51.100.1"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_client_is_as_many_entries_from_the_right_as_there_are_proxies(hops, forwarded, client):
    with override_settings(TRUSTED_PROXY_COUNT=hops):
        assert client_address(_request(forwarded=forwarded)) == client


@pytest.mark.parametrize("forwarded", [None, "", "198.51.100.1", "not-an-address, 10.0.1.5"])
def test_a_short_or_garbled_header_falls_back_to_the_peer(forwarded):
    with override_settings(TRUSTED_PROXY_COUNT=2):
        assert client_address(_request(forwarded=forwarded)) == "10.0.0.9"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_request_logs_name_the_trusted_client_address(client):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger("shopstack.request")
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        client.get("/health/live", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.1")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)

    assert records[-1].client == "198.51.100.1"
