"""Settings of the notifications service.

Email goes through Django's EMAIL_BACKEND (base settings, from the environment): the console
backend in development, locmem in tests, and Amazon SES in production, where
apps.notifications.backends.SESEmailBackend is the default and a backend that delivers nothing is
refused (config/settings/production.py). The SES backend sends with SES v2 SendEmail through
apps.core.aws.client("sesv2"), so AWS_SESV2_ENDPOINT_URL or AWS_ENDPOINT_URL point it at moto
locally. SMS goes through SNS Publish to a phone number (apps/core/sms.py), only to shoppers who
opted in and verified the number, and at most NOTIFICATIONS_SMS_DAILY_CAP a day to one number."""

from config.settings.env import env_int, env_str

# Sender of every shopper email; empty means DEFAULT_FROM_EMAIL. With SES it must be a verified
# identity (the address or its domain).
NOTIFICATIONS_FROM_EMAIL = env_str("NOTIFICATIONS_FROM_EMAIL", "")
# SES configuration set (event publishing: bounces, complaints, deliveries); empty for none.
NOTIFICATIONS_SES_CONFIGURATION_SET = env_str("NOTIFICATIONS_SES_CONFIGURATION_SET", "")
# Where an order's page is in the shop front end (SHOP_FRONTEND_URL + this, {order_id} filled in).
NOTIFICATIONS_ORDER_PATH = env_str("NOTIFICATIONS_ORDER_PATH", "/orders/{order_id}")
# Texts one phone number may get a day (UTC) from notifications, whichever shoppers they are
# for; past it an SMS delivery is recorded as skipped (sms_daily_cap) and the email still goes.
NOTIFICATIONS_SMS_DAILY_CAP = env_int("NOTIFICATIONS_SMS_DAILY_CAP", 5)
