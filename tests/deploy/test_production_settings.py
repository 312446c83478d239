"""Production settings refuse to start on an insecure payments webhook secret wherever the payments
service runs (split, or all-in-one), and only there; likewise on an email backend that delivers
nothing or no sender where notifications runs, on a local address where another machine must
be named (catalog's API for orders, the shop front end in links), and everywhere without the shared
cache. Each case imports the settings module in a fresh interpreter with nothing but the given
environment."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from config.services import SERVICES
from tests.deploy.templates import ROOT, load, service_parameters, task_containers

REAL_WEBHOOK_SECRET = "whsec_" + "7f3a9c" * 6

# Everything else a production task gets, with real-looking values, so the webhook secret is the
# only thing under test.
SECURE = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "Vq3-8sKp_Zr1mT9xWc4LhN7yBd2FgJ6uEa5oRi0kYt8HnQ3vXs1M",
    "DJANGO_ALLOWED_HOSTS": "api.shop.example",
    "DATABASE_URL": "postgres://shopstack@db.internal:5432/shopstack",
    **{f"{name.upper()}_DATABASE_URL": f"postgres://shopstack@db.internal:5432/{name}" for name in SERVICES},
    "JWT_PUBLIC_KEYS": '{"keys": []}',
    "AWS_ACCOUNT_ID": "210987654321",
    # What the service stack gives every task (SHOP_FRONTEND_URL) and notifications' (the sender).
    "SHOP_FRONTEND_URL": "https://shop.example.com",
    "DEFAULT_FROM_EMAIL": "ShopStack <shop@shop.example.com>",
    # users', orders' and notifications' key for sealed links and tokens (the others ignore it).
    "EVENT_SEALING_KEYS": "seal-" + "k" * 40,
    # The platform's shared cache, as the stacks render REDIS_URL (deploy/blocks/environment.py).
    "REDIS_URL": "rediss://shopstack-platform-abc123.serverless.euw1.cache.amazonaws.com:6379/0",
    # payments' provider: the sandbox, allowed explicitly (tests/payments/... covers Stripe's keys).
    "PAYMENTS_ALLOW_SANDBOX": "true",
    # Where the bank sends the shopper back after 3-D Secure (the stack renders it from the issuer).
    "PAYMENTS_RETURN_URL": "https://api.shop.example/api/v1/payments/return/",
}


def _start(
    *, service: str | None, webhook_secret: str | None, print_setting: str = "", **env_changes: str | None
) -> subprocess.CompletedProcess:
    """Import the production settings with SECURE, the webhook secret and `env_changes` (None
    removes a variable); `print_setting` names a setting to print on success."""
    env = {"PATH": os.environ.get("PATH", ""), **SECURE}
    if service:
        env["SERVICE"] = service
    if webhook_secret is not None:
        env["PAYMENTS_WEBHOOK_SECRET"] = webhook_secret
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    code = "import config.settings.production as s" + (f"; print(s.{print_setting})" if print_setting else "")
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("service", "webhook_secret"),
    [
        ("payments", None),  # the development default
        ("payments", "insecure-" + "x" * 40),
        ("payments", "too-short"),
        ("payments", f"{REAL_WEBHOOK_SECRET},too-short"),  # a rotation keeps every secret real
        (None, None),  # all-in-one runs payments too
    ],
)
def test_an_insecure_webhook_secret_is_refused_where_payments_runs(service, webhook_secret):
    result = _start(service=service, webhook_secret=webhook_secret)

    assert result.returncode != 0
    assert "Refusing to start in production: PAYMENTS_WEBHOOK_SECRET must be a real secret" in result.stderr


@pytest.mark.parametrize(
    ("service", "webhook_secret"),
    [
        ("payments", REAL_WEBHOOK_SECRET),
        ("payments", f"{REAL_WEBHOOK_SECRET}, whsec_{'0b1d' * 8}"),
        (None, REAL_WEBHOOK_SECRET),
        ("catalog", None),  # no payments here: its webhook secret is not needed
    ],
)
def test_a_real_webhook_secret_or_no_payments_service_starts(service, webhook_secret):
    result = _start(service=service, webhook_secret=webhook_secret)

    assert result.returncode == 0, result.stderr


# --- notifications: email must really leave ------------------------------------------------------


@pytest.mark.parametrize("service", ["notifications", None])
def test_notifications_sends_through_ses_by_default(service):
    result = _start(service=service, webhook_secret=REAL_WEBHOOK_SECRET, print_setting="EMAIL_BACKEND")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "apps.notifications.backends.SESEmailBackend"


@pytest.mark.parametrize("backend", ["console", "locmem", "dummy", "filebased"])
def test_an_email_backend_that_delivers_nothing_is_refused_for_notifications(backend):
    result = _start(
        service="notifications", webhook_secret=None, EMAIL_BACKEND=f"django.core.mail.backends.{backend}.EmailBackend"
    )

    assert result.returncode != 0
    assert "EMAIL_BACKEND must deliver email" in result.stderr


def test_a_real_backend_other_than_ses_is_allowed():
    backend = "django.core.mail.backends.smtp.EmailBackend"
    result = _start(service="notifications", webhook_secret=None, EMAIL_BACKEND=backend, print_setting="EMAIL_BACKEND")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == backend


def test_notifications_without_a_sender_is_refused():
    result = _start(service="notifications", webhook_secret=None, DEFAULT_FROM_EMAIL=None)

    assert result.returncode != 0
    assert "DEFAULT_FROM_EMAIL (or NOTIFICATIONS_FROM_EMAIL) must be set" in result.stderr


def test_other_services_need_no_email_settings():
    result = _start(service="catalog", webhook_secret=None, DEFAULT_FROM_EMAIL=None, print_setting="EMAIL_BACKEND")

    assert result.returncode == 0, result.stderr


# --- addresses of other machines ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "catalog_url", [None, "http://127.0.0.1:8002", "http://localhost:8000", "http://[::1]:8002", "http://0.0.0.0:8002"]
)
def test_orders_refuses_a_local_catalog_api_url(catalog_url):
    result = _start(service="orders", webhook_secret=None, CATALOG_API_URL=catalog_url)

    assert result.returncode != 0
    assert "CATALOG_API_URL must be catalog's address, not a local one" in result.stderr


@pytest.mark.parametrize(
    ("service", "catalog_url"), [("orders", "https://api-internal.shop.example.com"), (None, None)]
)
def test_orders_starts_with_catalogs_address_or_all_in_one_with_itself(service, catalog_url):
    result = _start(service=service, webhook_secret=REAL_WEBHOOK_SECRET, CATALOG_API_URL=catalog_url)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("service", ["users", "notifications", None])
@pytest.mark.parametrize("frontend_url", [None, "http://localhost:3000"])
def test_a_local_shop_front_end_is_refused_where_emails_link_to_it(service, frontend_url):
    result = _start(service=service, webhook_secret=REAL_WEBHOOK_SECRET, SHOP_FRONTEND_URL=frontend_url)

    assert result.returncode != 0
    assert "SHOP_FRONTEND_URL must be the shop's public address" in result.stderr


def test_services_that_send_no_links_need_no_front_end_address():
    result = _start(service="orders", webhook_secret=None, SHOP_FRONTEND_URL=None, CATALOG_API_URL="https://c.internal")

    assert result.returncode == 0, result.stderr


# --- the shared cache: the throttles count across processes -----------------------------------------

# What each service needs besides SECURE, so that the cache is the only thing missing.
SERVICE_NEEDS: dict[str | None, dict[str, str]] = {
    "users": {"JWT_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----"},
    "orders": {"CATALOG_API_URL": "https://api-internal.shop.example.com"},
}


@pytest.mark.parametrize("service", [*SERVICES, None])
@pytest.mark.parametrize("redis_url", [None, "rediss://localhost:6379/0", "rediss://127.0.0.1:6379/0"])
def test_production_refuses_to_start_without_the_shared_cache(service, redis_url):
    needs = SERVICE_NEEDS.get(service, {})
    result = _start(service=service, webhook_secret=REAL_WEBHOOK_SECRET, REDIS_URL=redis_url, **needs)

    assert result.returncode != 0
    assert "Refusing to start in production: REDIS_URL must name the shared cache" in result.stderr
    # The message says why: a cache per process multiplies the throttles' limits.
    assert "throttles count per process (the limit times tasks x workers)" in result.stderr


def test_a_cache_url_without_tls_is_refused():
    result = _start(service="users", webhook_secret=None, REDIS_URL="redis://cache.internal:6379/0")

    assert result.returncode != 0
    assert "REDIS_URL must use TLS (rediss://)" in result.stderr


@pytest.mark.parametrize("service", [*SERVICES, None])
def test_every_service_uses_the_shared_cache_under_its_own_prefix(service):
    needs = SERVICE_NEEDS.get(service, {})
    result = _start(service=service, webhook_secret=REAL_WEBHOOK_SECRET, print_setting="CACHES['default']", **needs)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": SECURE["REDIS_URL"],
            "KEY_PREFIX": service or "shopstack",
        }
    )


def test_the_https_redirect_exempts_what_the_http_security_tests_check():
    from tests.core.test_http_security import HTTPS_ON

    result = _start(service="catalog", webhook_secret=None, print_setting="SECURE_REDIRECT_EXEMPT")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(HTTPS_ON["SECURE_REDIRECT_EXEMPT"])


def test_catalog_keeps_rendered_answers_15_seconds_by_default():
    default = _start(service="catalog", webhook_secret=None, print_setting="CATALOG_RESPONSE_CACHE_SECONDS")
    off = _start(
        service="catalog",
        webhook_secret=None,
        print_setting="CATALOG_RESPONSE_CACHE_SECONDS",
        CATALOG_RESPONSE_CACHE_SECONDS="0",
    )

    assert (default.returncode, default.stdout.strip()) == (0, "15"), default.stderr
    assert (off.returncode, off.stdout.strip()) == (0, "0"), off.stderr


@pytest.mark.parametrize("service", ["users", "orders", "notifications", None])
@pytest.mark.parametrize("keys", [None, "", "insecure-" + "x" * 40, "short", "seal-" + "k" * 40 + ",short"])
def test_services_that_seal_or_open_refuse_to_start_without_real_sealing_keys(service, keys):
    result = _start(service=service, webhook_secret=REAL_WEBHOOK_SECRET, EVENT_SEALING_KEYS=keys)

    assert result.returncode != 0
    assert "EVENT_SEALING_KEYS must be real secrets" in result.stderr


@pytest.mark.parametrize("service", ["catalog", "payments"])
def test_services_that_neither_seal_nor_open_need_no_sealing_keys(service):
    result = _start(
        service=service,
        webhook_secret=REAL_WEBHOOK_SECRET,
        EVENT_SEALING_KEYS=None,
        CATALOG_API_URL="https://api-internal.shop.example",
    )

    assert result.returncode == 0, result.stderr


# --- payments as its stack renders it: Stripe, or the sandbox on a staging stack -------------------

# Real-looking values of the secrets behind the Stripe ARNs the stack is deployed with.
STRIPE_VALUES = {"STRIPE_SECRET_KEY": "rk_live_" + "51Hq7c" * 8, "STRIPE_WEBHOOK_SECRET": "whsec_" + "9c2e5b" * 6}


def _rendered_payments(**parameters: str) -> dict[str, str]:
    """What the payments web task of service.yaml gets for `parameters` that these tests vary: its
    PAYMENTS_* variables, and its Stripe secrets, with the values above."""
    container = task_containers(load("service"), service_parameters("payments", **parameters))["WebTaskDefinition"]
    environment = {item["Name"]: item["Value"] for item in container["Environment"]}
    injected = {item["Name"] for item in container["Secrets"]}
    return {
        # Values the stack computes (the return URL, from the platform's issuer) stay SECURE's.
        **{
            name: value
            for name, value in environment.items()
            if name.startswith("PAYMENTS_") and isinstance(value, str)
        },
        **{name: value for name, value in STRIPE_VALUES.items() if name in injected},
    }


def test_the_return_url_after_3d_secure_is_the_public_api_origin():
    container = task_containers(load("service"), service_parameters("payments"))["WebTaskDefinition"]
    environment = {item["Name"]: item["Value"] for item in container["Environment"]}

    assert environment["PAYMENTS_RETURN_URL"] == {
        "Fn::Sub": [
            "${Issuer}/api/v1/payments/return/",
            {"Issuer": {"Fn::ImportValue": {"Fn::Sub": "${PlatformStackName}-JwtIssuer"}}},
        ]
    }


@pytest.mark.parametrize("return_url", [None, "http://api.shop.example/api/v1/payments/return/"])
def test_payments_refuses_to_start_without_a_public_https_return_url(return_url):
    result = _start(service="payments", webhook_secret=REAL_WEBHOOK_SECRET, PAYMENTS_RETURN_URL=return_url)

    assert result.returncode != 0
    assert "PAYMENTS_RETURN_URL must be the public https address" in result.stderr


def test_a_rendered_payments_stack_starts_on_stripe():
    rendered = _rendered_payments()
    result = _start(
        service="payments", webhook_secret=REAL_WEBHOOK_SECRET, print_setting="PAYMENTS_PROVIDER", **rendered
    )

    assert rendered["PAYMENTS_PROVIDER"] == "stripe"
    assert (result.returncode, result.stdout.strip()) == (0, "stripe"), result.stderr


@pytest.mark.parametrize("missing", [["STRIPE_SECRET_KEY"], ["STRIPE_WEBHOOK_SECRET"], list(STRIPE_VALUES)])
def test_a_rendered_payments_stack_refuses_to_start_without_its_stripe_secrets(missing):
    rendered = {name: value for name, value in _rendered_payments().items() if name not in missing}
    result = _start(service="payments", webhook_secret=REAL_WEBHOOK_SECRET, **rendered)

    assert result.returncode != 0
    for name in missing:
        assert f"{name} must be" in result.stderr


def test_a_rendered_sandbox_stack_starts_without_stripe_secrets():
    rendered = _rendered_payments(
        PaymentsProvider="sandbox", StripeSecretKeySecretArn="", StripeWebhookSecretSecretArn=""
    )
    result = _start(
        service="payments", webhook_secret=REAL_WEBHOOK_SECRET, print_setting="PAYMENTS_PROVIDER", **rendered
    )

    assert not set(rendered) & set(STRIPE_VALUES)
    assert (result.returncode, result.stdout.strip()) == (0, "sandbox"), result.stderr


def test_the_sandbox_without_its_allowance_is_refused():
    rendered = _rendered_payments(
        PaymentsProvider="sandbox", StripeSecretKeySecretArn="", StripeWebhookSecretSecretArn=""
    )
    result = _start(
        service="payments", webhook_secret=REAL_WEBHOOK_SECRET, **{**rendered, "PAYMENTS_ALLOW_SANDBOX": None}
    )

    assert result.returncode != 0
    assert "PAYMENTS_PROVIDER is the sandbox" in result.stderr


# --- Django's deployment checklist -----------------------------------------------------------------


def _check_deploy(*, service: str | None, **env_changes: str | None) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", ""), **SECURE, "PAYMENTS_WEBHOOK_SECRET": REAL_WEBHOOK_SECRET}
    if service:
        env["SERVICE"] = service
    env.update(SERVICE_NEEDS.get(service, {}))
    for name, value in env_changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("service", [*SERVICES, None])
def test_check_deploy_finds_nothing_to_warn_about(service):
    result = _check_deploy(service=service)

    assert result.returncode == 0, result.stderr + result.stdout
    assert "WARNINGS" not in result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("variable", "warning"),
    [("DJANGO_SECURE_SSL_REDIRECT", "security.W008"), ("DJANGO_SECURE_HSTS_SECONDS", "security.W004")],
)
def test_check_deploy_warns_when_https_protection_is_turned_off(variable, warning):
    result = _check_deploy(service="catalog", **{variable: "0"})

    assert result.returncode != 0
    assert warning in result.stderr


@pytest.mark.parametrize(
    "secret", ["s3cr3t-" + "x" * 40, "ab" * 30, "django-insecure-" + "Vq3-8sKp_Zr1mT9xWc4LhN7yBd2FgJ6u"]
)
def test_a_secret_key_django_calls_weak_is_refused(secret):
    result = _start(service="catalog", webhook_secret=None, DJANGO_SECRET_KEY=secret)

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be a real secret of 50+ characters" in result.stderr


# --- CORS: only storefronts served over HTTPS ------------------------------------------------------


def test_no_cross_origin_caller_is_allowed_by_default():
    result = _start(service="catalog", webhook_secret=None, print_setting="CORS_ALLOWED_ORIGINS")

    assert (result.returncode, result.stdout.strip()) == (0, "[]"), result.stderr


def test_the_storefronts_listed_may_call_the_api():
    origins = "https://shop.example.com, https://m.shop.example.com"
    result = _start(
        service="catalog", webhook_secret=None, print_setting="CORS_ALLOWED_ORIGINS", CORS_ALLOWED_ORIGINS=origins
    )

    assert (result.returncode, result.stdout.strip()) == (
        0,
        str(["https://shop.example.com", "https://m.shop.example.com"]),
    )


def test_a_storefront_origin_over_plain_http_is_refused():
    result = _start(
        service="catalog", webhook_secret=None, CORS_ALLOWED_ORIGINS="https://shop.example.com,http://shop.example.com"
    )

    assert result.returncode != 0
    assert "CORS_ALLOWED_ORIGINS must list https:// origins only (not http://shop.example.com)" in result.stderr
