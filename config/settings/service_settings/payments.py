"""Settings of the payments service."""

from config.settings.env import env_bool, env_int, env_str, local_url

# The card provider adapter: `sandbox` (the default; charges nothing real), `stripe`, or a dotted
# path to a PaymentProvider class. Production refuses the sandbox unless PAYMENTS_ALLOW_SANDBOX.
PAYMENTS_PROVIDER = env_str("PAYMENTS_PROVIDER", "sandbox")
PAYMENTS_ALLOW_SANDBOX = env_bool("PAYMENTS_ALLOW_SANDBOX", False)

# Stripe (PAYMENTS_PROVIDER=stripe): the secret API key, the signing secret of the webhook
# endpoint (several, comma separated, while rotating), and another API address for a fake Stripe
# server (localstripe) in tests and the local stack; empty means Stripe's own.
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY", "sk_test_insecure_local")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET", "whsec_insecure_local")
STRIPE_API_BASE = env_str("STRIPE_API_BASE", "")
# One Stripe call's budget (connect and read), inside the charge task's retries.
STRIPE_TIMEOUT_SECONDS = env_int("STRIPE_TIMEOUT_SECONDS", 20)

# Provider webhooks are signed with HMAC-SHA256 under this shared secret (several, comma
# separated, while rotating); a signature older than the tolerance is refused as a replay.
# Where the provider sends the shopper back after 3-D Secure: payments' return endpoint at the
# address shoppers reach (the gateway's, in a deployment; the all-in-one shop on PORT locally).
PAYMENTS_RETURN_URL = env_str("PAYMENTS_RETURN_URL", local_url() + "/api/v1/payments/return/")
PAYMENTS_WEBHOOK_SECRET = env_str("PAYMENTS_WEBHOOK_SECRET", "insecure-local-payments-webhook-secret")
PAYMENTS_WEBHOOK_TOLERANCE_SECONDS = env_int("PAYMENTS_WEBHOOK_TOLERANCE_SECONDS", 5 * 60)

# A charge or refund that meets a transient provider error is retried this many times, with
# exponential backoff (capped below CELERY_MAX_RETRY_COUNTDOWN), before it fails for good.
PAYMENTS_PROVIDER_MAX_RETRIES = env_int("PAYMENTS_PROVIDER_MAX_RETRIES", 5)
PAYMENTS_RETRY_BACKOFF_SECONDS = env_int("PAYMENTS_RETRY_BACKOFF_SECONDS", 2)
PAYMENTS_RETRY_BACKOFF_MAX_SECONDS = env_int("PAYMENTS_RETRY_BACKOFF_MAX_SECONDS", 120)

# How long a card authorization (capture at shipment) can still be captured: Stripe's is 7 days for
# online card payments; the sandbox expires its authorizations after as long.
PAYMENTS_AUTHORIZATION_VALID_DAYS = env_int("PAYMENTS_AUTHORIZATION_VALID_DAYS", 7)

# The sandbox's `tok_transient` fails this many times per idempotency key, then succeeds.
PAYMENTS_SANDBOX_TRANSIENT_FAILURES = env_int("PAYMENTS_SANDBOX_TRANSIENT_FAILURES", 2)

# Reconciliation with the provider (payments.reconcile_provider, every PAYMENTS_RECONCILE_SECONDS):
# the first run looks back PAYMENTS_RECONCILE_LOOKBACK_SECONDS; a payment younger than the grace
# is left to its charge task, and each run re-reads that much before its cursor.
PAYMENTS_RECONCILE_SECONDS = env_int("PAYMENTS_RECONCILE_SECONDS", 5 * 60)
PAYMENTS_RECONCILE_LOOKBACK_SECONDS = env_int("PAYMENTS_RECONCILE_LOOKBACK_SECONDS", 7 * 24 * 3600)
PAYMENTS_RECONCILE_GRACE_SECONDS = env_int("PAYMENTS_RECONCILE_GRACE_SECONDS", 10 * 60)
# Merge into CELERY_BEAT_SCHEDULE where the payments service runs (see config/settings/base.py).
PAYMENTS_CELERY_BEAT_SCHEDULE = {
    "payments-reconcile-provider": {"task": "payments.reconcile_provider", "schedule": PAYMENTS_RECONCILE_SECONDS},
}
