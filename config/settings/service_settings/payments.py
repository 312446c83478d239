"""Settings of the payments service."""

from config.settings.env import env_int, env_str

# The card provider adapter (a dotted path to a PaymentProvider class). The built-in sandbox
# charges nothing real; a production deployment points this at a real provider's adapter.
PAYMENTS_PROVIDER = env_str("PAYMENTS_PROVIDER", "apps.payments.providers.sandbox.SandboxProvider")

# Provider webhooks are signed with HMAC-SHA256 under this shared secret (several, comma
# separated, while rotating); a signature older than the tolerance is refused as a replay.
PAYMENTS_WEBHOOK_SECRET = env_str("PAYMENTS_WEBHOOK_SECRET", "insecure-local-payments-webhook-secret")
PAYMENTS_WEBHOOK_TOLERANCE_SECONDS = env_int("PAYMENTS_WEBHOOK_TOLERANCE_SECONDS", 5 * 60)

# A charge or refund that meets a transient provider error is retried this many times, with
# exponential backoff (capped below CELERY_MAX_RETRY_COUNTDOWN), before it fails for good.
PAYMENTS_PROVIDER_MAX_RETRIES = env_int("PAYMENTS_PROVIDER_MAX_RETRIES", 5)
PAYMENTS_RETRY_BACKOFF_SECONDS = env_int("PAYMENTS_RETRY_BACKOFF_SECONDS", 2)
PAYMENTS_RETRY_BACKOFF_MAX_SECONDS = env_int("PAYMENTS_RETRY_BACKOFF_MAX_SECONDS", 120)

# The sandbox's `tok_transient` fails this many times per idempotency key, then succeeds.
PAYMENTS_SANDBOX_TRANSIENT_FAILURES = env_int("PAYMENTS_SANDBOX_TRANSIENT_FAILURES", 2)
