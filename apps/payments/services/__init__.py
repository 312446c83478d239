"""Writes of the payments service, one module per story: charges, refunds, provider_webhooks."""
