"""Settings of the notifications service.

Email goes through Django's EMAIL_BACKEND (base settings, from the environment): the console
backend in development, locmem in tests, and Amazon SES in production, where
apps.notifications.backends.SESEmailBackend is the default and a backend that delivers nothing is
refused (config/settings/production.py). The SES backend sends with SES v2 SendEmail through
apps.core.aws.client("sesv2"), so AWS_SESV2_ENDPOINT_URL or AWS_ENDPOINT_URL point it at moto
locally. SMS goes through SNS Publish to a phone number, only to shoppers who opted in."""

from config.settings.env import env_str

# Sender of every shopper email; empty means DEFAULT_FROM_EMAIL. With SES it must be a verified
# identity (the address or its domain).
NOTIFICATIONS_FROM_EMAIL = env_str("NOTIFICATIONS_FROM_EMAIL", "")
# SES configuration set (event publishing: bounces, complaints, deliveries); empty for none.
NOTIFICATIONS_SES_CONFIGURATION_SET = env_str("NOTIFICATIONS_SES_CONFIGURATION_SET", "")
# SNS SMS type: "Transactional" (delivery priority, what order messages are) or "Promotional".
NOTIFICATIONS_SMS_TYPE = env_str("NOTIFICATIONS_SMS_TYPE", "Transactional")
# Alphanumeric sender id shown on SMS where the destination country supports it; empty for none.
NOTIFICATIONS_SMS_SENDER_ID = env_str("NOTIFICATIONS_SMS_SENDER_ID", "")
# Where an order's page is in the shop front end (SHOP_FRONTEND_URL + this, {order_id} filled in).
NOTIFICATIONS_ORDER_PATH = env_str("NOTIFICATIONS_ORDER_PATH", "/orders/{order_id}")
