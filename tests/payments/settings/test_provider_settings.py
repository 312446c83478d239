"""Production settings and payments' provider: the sandbox (which takes no money) only when a
deployment allows it explicitly; Stripe only with a real secret key and webhook signing secret.
Each case imports the production settings in a fresh interpreter (tests/deploy's harness)."""

from __future__ import annotations

import pytest

from tests.deploy.test_production_settings import REAL_WEBHOOK_SECRET, _start

STRIPE = {
    "PAYMENTS_PROVIDER": "stripe",
    "PAYMENTS_ALLOW_SANDBOX": None,
    "STRIPE_SECRET_KEY": "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc" * 2,
    "STRIPE_WEBHOOK_SECRET": "whsec_" + "3f9a" * 8,
}


@pytest.mark.parametrize("provider", [None, "sandbox", "apps.payments.providers.sandbox.SandboxProvider"])
@pytest.mark.parametrize("service", ["payments", None])
def test_the_sandbox_is_refused_unless_allowed_explicitly(service, provider):
    result = _start(
        service=service, webhook_secret=REAL_WEBHOOK_SECRET, PAYMENTS_PROVIDER=provider, PAYMENTS_ALLOW_SANDBOX=None
    )

    assert result.returncode != 0
    assert "PAYMENTS_PROVIDER is the sandbox" in result.stderr


def test_the_sandbox_allowed_explicitly_and_stripe_with_real_keys_start():
    allowed = _start(service="payments", webhook_secret=REAL_WEBHOOK_SECRET, PAYMENTS_ALLOW_SANDBOX="true")
    stripe = _start(service="payments", webhook_secret=REAL_WEBHOOK_SECRET, print_setting="PAYMENTS_PROVIDER", **STRIPE)

    assert allowed.returncode == 0, allowed.stderr
    assert stripe.returncode == 0, stripe.stderr
    assert stripe.stdout.strip() == "stripe"


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("STRIPE_SECRET_KEY", None, "STRIPE_SECRET_KEY must be"),
        ("STRIPE_SECRET_KEY", "pk_live_publishable", "STRIPE_SECRET_KEY must be"),
        ("STRIPE_WEBHOOK_SECRET", None, "STRIPE_WEBHOOK_SECRET must be"),
        ("STRIPE_WEBHOOK_SECRET", f"whsec_{'3f9a' * 8},short", "STRIPE_WEBHOOK_SECRET must be"),
    ],
)
def test_stripe_without_its_real_keys_is_refused(name, value, problem):
    result = _start(service="payments", webhook_secret=REAL_WEBHOOK_SECRET, **{**STRIPE, name: value})

    assert result.returncode != 0
    assert problem in result.stderr


def test_services_without_payments_need_no_provider_settings():
    result = _start(service="catalog", webhook_secret=None, PAYMENTS_ALLOW_SANDBOX=None)

    assert result.returncode == 0, result.stderr
