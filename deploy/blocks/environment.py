"""The tasks' environment and secrets: the ECS container definitions (service.yaml) and the EC2
web instances' env file (service-asg.yaml) are rendered from the same lists, so they cannot drift."""

from __future__ import annotations

from typing import Any

from blocks.common import only_for, platform_import, ref, sub
from blocks.tracing import tracing_environment

# Container port of the web role (gunicorn binds $PORT).
WEB_PORT = 8000
# Proxies that append to X-Forwarded-For before a web task: API Gateway, then the load balancer.
TRUSTED_PROXY_COUNT = 2

# Catalog's name and port for the services that call it through ECS Service Connect (the web
# service's ServiceConnectConfiguration in service.yaml publishes it; tests/deploy checks they agree).
CATALOG_SERVICE_CONNECT = ("catalog", 8000)
# Orders' way to catalog without Service Connect: the internal load balancer under the name on its
# certificate (the platform's LoadBalancerServerName, also in catalog's AllowedHosts).
_CATALOG_THROUGH_LOAD_BALANCER = sub("https://${Name}", {"Name": platform_import("LoadBalancerServerName")})


# All-in-one, catalog is the very process orders runs in: orders calls it on the task's loopback
# (the address must be one of the allowed hosts).
ALL_IN_ONE_CATALOG = ("127.0.0.1", WEB_PORT)


def _catalog_api_url(variant: str) -> Any:
    """Orders' CATALOG_API_URL: by name through Service Connect from its ECS tasks (unless the stack
    says catalog's web tier is on EC2, CatalogEndpoint=load-balancer); through the load balancer
    from EC2 web instances, which ECS's proxies do not reach; all-in-one, its own task's loopback."""
    if variant == "ec2":
        return _CATALOG_THROUGH_LOAD_BALANCER
    name, port = CATALOG_SERVICE_CONNECT
    host, local_port = ALL_IN_ONE_CATALOG
    split = {"Fn::If": ["CallsCatalogByName", f"http://{name}:{port}", _CATALOG_THROUGH_LOAD_BALANCER]}
    return {"Fn::If": ["AllInOne", f"http://{host}:{local_port}", split]}


# Settings only one service reads, by service: that service's tasks get them, the others do not.
SERVICE_ENVIRONMENT: dict[str, dict[str, Any]] = {
    # Orders prices carts with catalog's API (ECS tasks by name, EC2 instances through the load balancer).
    "orders": {"CATALOG_API_URL": _catalog_api_url},
    # Product images at stable, unsigned URLs: the platform's CDN in front of the media bucket's
    # public prefix (config/settings/service_settings/catalog.py turns off presigning with it).
    "catalog": {"AWS_S3_CUSTOM_DOMAIN": platform_import("MediaPublicDomain")},
    # The sender of every shopper email: an address of the SES identity in SesIdentityArn.
    "notifications": {"DEFAULT_FROM_EMAIL": ref("NotificationsFromEmail")},
    # Stripe, or (a staging stack taking no money) the sandbox, which production refuses without
    # PAYMENTS_ALLOW_SANDBOX.
    "payments": {
        "PAYMENTS_PROVIDER": ref("PaymentsProvider"),
        "PAYMENTS_ALLOW_SANDBOX": {"Fn::If": ["PaymentsOnSandbox", "true", "false"]},
        # Where the bank sends the shopper back after 3-D Secure: payments' return endpoint on the
        # public API origin (the token issuer).
        "PAYMENTS_RETURN_URL": sub("${Issuer}/api/v1/payments/return/", {"Issuer": platform_import("JwtIssuer")}),
    },
}
# Secrets only some services get, by the services; the value is the secret's full ARN (a
# parameter). Each secret once, so the all-in-one task (which runs them all) gets it once.
SERVICE_SECRETS: dict[str, tuple[tuple[str, ...], Any]] = {
    "JWT_PRIVATE_KEY": (("users",), ref("JwtPrivateKeySecretArn")),
    # users seals the password reset and email verification links, orders a guest order's access
    # token; notifications opens them (apps/core/sealing.py).
    "EVENT_SEALING_KEYS": (("users", "orders", "notifications"), ref("EventSealingKeysSecretArn")),
    "PAYMENTS_WEBHOOK_SECRET": (("payments",), ref("PaymentsWebhookSecretArn")),
}
# The template's condition that holds where one of these services runs (service.yaml's Is<Service>
# holds for its service and for the all-in-one stack).
_RUNS = {("users",): "IsUsers", ("payments",): "IsPayments", ("users", "orders", "notifications"): "SealsEvents"}
# Secrets a service gets only when a condition of the template holds, by condition: payments'
# Stripe keys where it charges through Stripe (the sandbox needs none).
CONDITIONAL_SECRETS: dict[str, dict[str, Any]] = {
    "InjectsStripeSecrets": {
        "STRIPE_SECRET_KEY": ref("StripeSecretKeySecretArn"),
        "STRIPE_WEBHOOK_SECRET": ref("StripeWebhookSecretSecretArn"),
    },
}


def _database_endpoint(attribute: str, variant: str) -> dict:
    """The service's database endpoint: the service stack's own RDS instance or the shared one of
    its DatabaseStackName, or (the EC2 variant, a stack of its own) the service stack's export of
    whichever it is."""
    own = (
        {"Fn::GetAtt": ["Database", f"Endpoint.{attribute}"]}
        if variant == "ecs"
        else {"Fn::ImportValue": sub(f"${{ServiceStackName}}-Database{attribute}")}
    )
    shared = {"Fn::ImportValue": sub(f"${{DatabaseStackName}}-Database{attribute}")}
    return {"Fn::If": ["SharedDatabase", shared, own]}


def environment(variant: str = "ecs") -> dict[str, Any]:
    """The web/worker/scheduler environment, by name: the ECS task definitions' Environment
    (variant "ecs", service.yaml) and the EC2 web instances' env file (variant "ec2",
    service-asg.yaml) are both rendered from it, so the two cannot drift apart. A Ref names a
    parameter both templates declare alike (tests/deploy checks that)."""
    # Catalog also answers to its Service Connect name (the Host its callers send); all-in-one, to
    # its loopback address (orders' calls from the same task).
    allowed_hosts: Any = {
        "Fn::If": ["IsCatalog", sub(f"${{AllowedHosts}},{CATALOG_SERVICE_CONNECT[0]}"), ref("AllowedHosts")]
    }
    # kombu's SQS transport with the task role's credentials; queues are predefined in settings.
    broker: Any = "sqs://"
    if variant == "ecs":
        allowed_hosts = {"Fn::If": ["AllInOne", sub(f"${{AllowedHosts}},{ALL_IN_ONE_CATALOG[0]}"), allowed_hosts]}
        # All-in-one, tasks and events run in the process: no broker (the scheduler runs its
        # periodic tasks itself, deploy/heartbeat.py).
        broker = {"Fn::If": ["AllInOne", "memory://", broker]}
    return {
        "SERVICE": ref("ServiceName"),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_ALLOWED_HOSTS": allowed_hosts,
        "PORT": str(WEB_PORT),
        "LOG_FORMAT": "json",
        "AWS_REGION": ref("AWS::Region"),
        "AWS_ACCOUNT_ID": ref("AWS::AccountId"),
        "AWS_RESOURCE_PREFIX": ref("ResourcePrefix"),
        "EVENTS_TOPIC_ARN": platform_import("EventsTopicArn"),
        "CELERY_BROKER_URL": broker,
        "CELERY_VISIBILITY_TIMEOUT": ref("VisibilityTimeout"),
        "EVENTS_MAX_RECEIVES": ref("MaxReceiveCount"),
        # The outbox sweep's OutboxOldestUnsentAge as embedded-metric log lines (OutboxStuckAlarm).
        "METRICS_EMBEDDED": "true",
        # deploy/entrypoint.py assembles DATABASE_URL from these and the injected credentials.
        "DATABASE_HOST": _database_endpoint("Address", variant),
        "DATABASE_PORT": _database_endpoint("Port", variant),
        "DATABASE_NAME": {"Fn::FindInMap": ["Services", ref("ServiceName"), "DatabaseName"]},
        "DATABASE_SSLMODE": "require",
        # One issuer and audience for the tokens users signs, every service checks and API
        # Gateway's authorizer checks: the platform stack's parameters, exported.
        "JWT_ISSUER": platform_import("JwtIssuer"),
        "JWT_AUDIENCE": platform_import("JwtAudience"),
        # Django's cache, shared by every task and worker (the platform's ElastiCache Serverless):
        # throttles count across processes. rediss: the cache accepts TLS only; /0: the only
        # database a serverless cache has. Production refuses to start without it.
        "REDIS_URL": sub(
            "rediss://${Address}:${Port}/0",
            {"Address": platform_import("CacheAddress"), "Port": platform_import("CachePort")},
        ),
        "AWS_STORAGE_BUCKET_NAME": platform_import("MediaBucketName"),
        "AWS_LOCATION": ref("ServiceName"),
        # Links in emails (password reset, order pages) point at the shop front end.
        "SHOP_FRONTEND_URL": ref("ShopFrontendUrl"),
        # A request reaches a task through API Gateway (HTTP API), its VPC link and the load
        # balancer: API Gateway appends the caller's address to X-Forwarded-For, the load balancer
        # appends the VPC link's, so the client is the 2nd address from the right (deploy/README.md).
        "TRUSTED_PROXY_COUNT": str(TRUSTED_PROXY_COUNT),
        # Origins forms are posted from: the public API origin (the issuer) and the load balancer's
        # name, where staff reach the admin from inside the VPC (the gateway routes no /admin).
        "DJANGO_CSRF_TRUSTED_ORIGINS": sub(
            "${Issuer},https://${Internal}",
            {"Issuer": platform_import("JwtIssuer"), "Internal": platform_import("LoadBalancerServerName")},
        ),
        # Storefronts (browsers on other origins) that may call the API; empty: none.
        "CORS_ALLOWED_ORIGINS": ref("CorsAllowedOrigins"),
    }


def container_environment(role: str) -> list[dict]:
    """The container's Environment: the shared list, the tracing settings where a collector runs
    beside the app (not in the one-off migrate task), and the service's own settings."""
    traced = tracing_environment() if role != "migrate" else {}
    return [{"Name": name, "Value": value} for name, value in {**environment("ecs"), **traced}.items()] + [
        only_for(service, {"Name": name, "Value": _value(value, "ecs")})
        for service, variables in SERVICE_ENVIRONMENT.items()
        for name, value in variables.items()
    ]


def _value(value: Any, variant: str) -> Any:
    """A SERVICE_ENVIRONMENT value: the same in both variants, or a function of the variant."""
    return value(variant) if callable(value) else value


def _env_file_line(name: str, value: Any) -> Any:
    """`NAME=value` as a string CloudFormation builds: literal, or an Fn::Sub."""
    if isinstance(value, str):
        assert "${" not in value and "\n" not in value, value
        return f"{name}={value}"
    if set(value) == {"Ref"}:
        return sub(f"{name}=${{{value['Ref']}}}")
    if set(value) == {"Fn::Sub"}:
        text, variables = value["Fn::Sub"] if isinstance(value["Fn::Sub"], list) else (value["Fn::Sub"], None)
        return sub(f"{name}={text}", variables)
    return sub(f"{name}=${{Value}}", {"Value": value})


def ec2_environment() -> dict:
    """The `Environment` variable of the EC2 web instances' user data (service-asg.yaml): the env
    file lines of environment("ec2"), the tracing settings and SERVICE_ENVIRONMENT, one a line. A service-specific line
    is empty in the other services' stacks (docker's --env-file skips empty lines)."""
    variables = {**environment("ec2"), **tracing_environment()}
    lines = [_env_file_line(name, value) for name, value in variables.items()] + [
        {"Fn::If": [f"Is{service.capitalize()}", _env_file_line(name, _value(value, "ec2")), ""]}
        for service, variables in SERVICE_ENVIRONMENT.items()
        for name, value in variables.items()
    ]
    return {"Environment": {"Fn::Join": ["\n", lines]}}


# The shared instance's master secret (database.yaml), on a shared instance only.
_SHARED_MASTER_SECRET = {"Fn::ImportValue": sub("${DatabaseStackName}-MasterSecretArn")}


def database_secrets(role: str) -> list[Any]:
    """The database credentials a role gets: migrate the owner's (the RDS master secret, or on a
    shared instance the service's owner role) plus the application role's first password
    (deploy/migrate.py creates that role when missing) and, on a shared instance, its master's (to
    create the service's database and owner role when missing); every other role the application
    role's secret, which Secrets Manager rotates (alternating users)."""
    if role == "migrate":
        return [
            {"Name": "DATABASE_USER", "ValueFrom": sub("${DatabaseSecret}:username::")},
            {"Name": "DATABASE_PASSWORD", "ValueFrom": sub("${DatabaseSecret}:password::")},
            {"Name": "DATABASE_APP_PASSWORD", "ValueFrom": sub("${AppDatabaseSecret}:password::")},
            *(
                {
                    "Fn::If": [
                        "SharedDatabase",
                        {"Name": name, "ValueFrom": sub(f"${{Master}}:{key}::", {"Master": _SHARED_MASTER_SECRET})},
                        ref("AWS::NoValue"),
                    ]
                }
                for name, key in (("DATABASE_ADMIN_USER", "username"), ("DATABASE_ADMIN_PASSWORD", "password"))
            ),
        ]
    return [
        {"Name": "DATABASE_USER", "ValueFrom": sub("${AppDatabaseSecret}:username::")},
        {"Name": "DATABASE_PASSWORD", "ValueFrom": sub("${AppDatabaseSecret}:password::")},
    ]


def container_secrets(role: str = "web") -> list[Any]:
    # ValueFrom is always a secret's ARN: ECS reads anything else as an SSM parameter name.
    # Ref of an AWS::SecretsManager::Secret is its ARN; the shared secrets come as ARN parameters.
    return (
        [
            {"Name": "DJANGO_SECRET_KEY", "ValueFrom": ref("AppSecret")},
            *database_secrets(role),
            {"Name": "JWT_PUBLIC_KEYS", "ValueFrom": ref("JwtPublicKeysSecretArn")},
        ]
        + [
            {"Fn::If": [_RUNS[services], {"Name": name, "ValueFrom": value}, ref("AWS::NoValue")]}
            for name, (services, value) in SERVICE_SECRETS.items()
        ]
        + [
            {"Fn::If": [condition, {"Name": name, "ValueFrom": value}, ref("AWS::NoValue")]}
            for condition, secrets in CONDITIONAL_SECRETS.items()
            for name, value in secrets.items()
        ]
    )


def role_environment(role: str) -> list[dict]:
    if role != "migrate":
        return []
    return [{"Name": "DATABASE_APP_ROLE", "Value": sub("shopstack_${ServiceName}_app")}]
