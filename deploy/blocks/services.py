"""service.yaml's Services mapping and ServiceName's allowed values: one entry per service of the
registry, with its queues, listener rules and subscribed event types."""

from __future__ import annotations

from blocks.common import SERVICES, subscribed_event_types

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


def services_mapping() -> dict:
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
    return {"Services": services}


def service_names() -> dict:
    return {"AllowedValues": list(SERVICES)}
