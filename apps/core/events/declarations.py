"""The services' event declarations, read from their contracts: which event types each service
publishes and which it subscribes to. Provisioning, the in-process bus, the checks and the
deployment templates all read this one source."""

from __future__ import annotations

from functools import cache
from importlib import import_module

from config.services import SERVICES


@cache
def publishes(service: str) -> frozenset[str]:
    return frozenset(getattr(_contract(service), "PUBLISHES", ()))


@cache
def subscribes(service: str) -> frozenset[str]:
    return frozenset(getattr(_contract(service), "SUBSCRIBES", ()))


def subscribers(event_type: str) -> list[str]:
    return [name for name in SERVICES if event_type in subscribes(name)]


def _contract(service: str):
    # Contracts hold no Django, so reading another service's declaration is safe in any shape.
    return import_module(f"{SERVICES[service].app}.contracts.events")
