"""service.yaml's Services mapping and ServiceName's allowed values: one entry per service of the
registry, with its queues, listener rules and subscribed event types, and in service.yaml one more,
ALL_IN_ONE: every service in one process (the all-in-one shape as one ECS service)."""

from __future__ import annotations

from blocks.common import SERVICES, subscribed_event_types

# service.yaml's ServiceName for the all-in-one shape: one stack, one ECS service whose task runs
# every service's web in one process (SERVICE=all, deploy/entrypoint.py) and their periodic work.
ALL_IN_ONE = "all"
# The all-in-one's one database per service lives on its one instance; Django's own apps (staff,
# sessions, admin log) in this one, the instance's first (deploy/migrate.py creates the others).
ALL_IN_ONE_DATABASE = "shopstack"

# The first listener rule priority; each service's rules follow at steps of 10.
FIRST_LISTENER_PRIORITY = 100

# Paths a service serves at the site root, outside its own prefixes (the `root_urlpatterns` of
# apps/<service>/api/urls.py). They get a listener rule of their own: one path-pattern condition
# holds at most three values, and the service's prefixes already use them.
ROOT_PATHS = {
    # Key discovery: API Gateway's JWT authorizer reads {JWT_ISSUER}/.well-known/openid-configuration
    # and the jwks_uri it names (/.well-known/jwks.json) through the gateway and this load balancer.
    "users": ["/.well-known/*"],
}


def services_mapping(shape: str = "split") -> dict:
    """Every service's entry; with shape "all-in-one" (service.yaml) also ALL_IN_ONE's: one
    database of its own, every path the services serve, no queue and no subscription (events and
    tasks run in the process)."""
    services = {}
    for index, service in enumerate(SERVICES.values()):
        event_types = subscribed_event_types(service.name)
        services[service.name] = {
            "Queue": service.queue,
            "DeadLetterQueue": service.dead_letter_queue,
            "DatabaseName": service.name,
            "ListenerPriority": FIRST_LISTENER_PRIORITY + 10 * index,
            "PathPatterns": [f"/{service.url_prefix}*", f"/admin/{service.name}/*", f"/static/{service.name}/*"],
            # A second rule (WebRootListenerRule), right after the first, for ROOT_PATHS.
            "ServesRootPaths": "true" if service.name in ROOT_PATHS else "false",
            "RootListenerPriority": FIRST_LISTENER_PRIORITY + 10 * index + 1,
            "RootPathPatterns": ROOT_PATHS.get(service.name, ["/none"]),
            "Subscribes": "true" if event_types else "false",
            # A mapping value may not be an empty list; with Subscribes "false" nothing reads it.
            "EventTypes": event_types or ["none"],
        }
    if shape == "all-in-one":
        index = len(SERVICES)
        services[ALL_IN_ONE] = {
            "Queue": "none",
            "DeadLetterQueue": "none",
            "DatabaseName": ALL_IN_ONE_DATABASE,
            "ListenerPriority": FIRST_LISTENER_PRIORITY + 10 * index,
            # The all-in-one shape's URLs: every service's API, one admin, one static prefix.
            "PathPatterns": ["/api/*", "/admin/*", "/static/*"],
            "ServesRootPaths": "true",
            "RootListenerPriority": FIRST_LISTENER_PRIORITY + 10 * index + 1,
            "RootPathPatterns": sorted({path for paths in ROOT_PATHS.values() for path in paths}),
            "Subscribes": "false",
            "EventTypes": ["none"],
        }
    return {"Services": services}


def service_names(shape: str = "split") -> dict:
    return {"AllowedValues": [*SERVICES, *([ALL_IN_ONE] if shape == "all-in-one" else [])]}
