"""api-gateway.yaml's routes: one per service, JWT-authorized unless it serves anonymous callers."""

from __future__ import annotations

from typing import Any

from blocks.common import SERVICES, ref, sub

# Services whose API has anonymous endpoints the gateway must let through; Django authenticates
# every request anyway, so the gateway's JWT check is an early filter, not the only one.
GATEWAY_ANONYMOUS = {
    "users": "registration, login, token refresh and password reset come without a token",
    "catalog": "shoppers browse products before they log in",
    "payments": "payment providers call the webhooks, signed by the provider, not with a JWT",
}

# Paths a service serves at the site root, outside its own prefixes (the `root_urlpatterns` of


def gateway_routes() -> dict:
    resources: dict[str, Any] = {}
    for service in SERVICES.values():
        anonymous = service.name in GATEWAY_ANONYMOUS
        route: dict[str, Any] = {
            "ApiId": ref("HttpApi"),
            "RouteKey": f"ANY /{service.url_prefix}{{proxy+}}",
            "Target": sub("integrations/${AlbIntegration}"),
        }
        if anonymous:
            route["AuthorizationType"] = "NONE"
        else:
            route.update({"AuthorizationType": "JWT", "AuthorizerId": ref("JwtAuthorizer")})
        resources[f"{service.name.capitalize()}Route"] = {
            "Type": "AWS::ApiGatewayV2::Route",
            "Metadata": {"Authorization": GATEWAY_ANONYMOUS.get(service.name, "JWT checked at the gateway")},
            "Properties": route,
        }
    return resources
