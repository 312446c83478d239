"""Settings of the orders service."""

from django.core.exceptions import ImproperlyConfigured

from config.settings.env import env_bool, env_int, env_str, local_url

# Catalog's API, called synchronously for current prices and availability (apps/orders/integrations.py).
# All-in-one, catalog is served by the same runserver; split, by catalog's own service URL.
CATALOG_API_URL = env_str("CATALOG_API_URL", local_url("127.0.0.1"))
# The lookup answers in milliseconds: a connection not made in CATALOG_API_CONNECT_TIMEOUT_SECONDS,
# or an answer not read in CATALOG_API_TIMEOUT_SECONDS, is an attempt failed (then the backoff), so
# a shopper waits seconds at most for "catalog_unavailable", never a worker's whole timeout.
CATALOG_API_CONNECT_TIMEOUT_SECONDS = float(env_str("CATALOG_API_CONNECT_TIMEOUT_SECONDS", "0.5"))
CATALOG_API_TIMEOUT_SECONDS = float(env_str("CATALOG_API_TIMEOUT_SECONDS", "1.5"))
# Attempts in all (1 = no retry); the backoff doubles from CATALOG_API_BACKOFF_SECONDS.
CATALOG_API_ATTEMPTS = env_int("CATALOG_API_ATTEMPTS", 3)
CATALOG_API_BACKOFF_SECONDS = float(env_str("CATALOG_API_BACKOFF_SECONDS", "0.2"))

# Cart limits.
ORDERS_MAX_LINE_QUANTITY = env_int("ORDERS_MAX_LINE_QUANTITY", 20)
ORDERS_MAX_CART_LINES = env_int("ORDERS_MAX_CART_LINES", 100)

# Pricing (apps/orders/pricing, docs/pricing.md). Shipping zones, methods, tax rates, vouchers
# and promotions are data in orders' database (the admin); these say how prices are read.
# Whether catalog's prices include tax (EU shops show final prices): the tax is then taken out
# of each amount rather than added to it.
ORDERS_PRICES_INCLUDE_TAX = env_bool("ORDERS_PRICES_INCLUDE_TAX", False)
# "total": each rate's tax is rounded once, then shared among the lines; "line": each line's tax
# is rounded on its own (the sum may then differ from the rate x the base by a few minor units).
ORDERS_TAX_ROUNDING = env_str("ORDERS_TAX_ROUNDING", "total")
# Where a cart is priced before the shopper gives an address (tax and the cheapest shipping).
ORDERS_DEFAULT_COUNTRY = env_str("ORDERS_DEFAULT_COUNTRY", "GB")
# The EU country the shop is established in for VAT (ISO 3166-1); empty: none, and business
# buyers are never reverse charged. Set, a buyer with a VAT number (valid in form) of another EU
# country, delivered there, pays no VAT ("reverse charge"); only when prices exclude tax.
ORDERS_SHOP_COUNTRY = env_str("ORDERS_SHOP_COUNTRY", "").upper()
# How long each process keeps the zones, methods, tax rates and promotions (0: read every time).
ORDERS_PRICING_RULES_CACHE_SECONDS = env_int("ORDERS_PRICING_RULES_CACHE_SECONDS", 30)

# When the shopper's money is taken (docs/payments.md, "Capture at shipment"): "confirmation" (the
# charge confirms the order) or "shipment" (the checkout only authorizes the amount; each order's
# parcels are captured in one capture when its last parcel ships, the rest released). Orders
# reads it and says so in every payment.requested, so payments needs no copy of it.
PAYMENTS_CAPTURE_AT = env_str("PAYMENTS_CAPTURE_AT", "confirmation")
if PAYMENTS_CAPTURE_AT not in ("confirmation", "shipment"):
    raise ImproperlyConfigured('PAYMENTS_CAPTURE_AT must be "confirmation" or "shipment".')

# A saga step (stock reservation, payment) that has not answered within this many seconds is
# given up: the order is cancelled and compensated (orders.tasks.expire_stalled_orders).
ORDERS_SAGA_TIMEOUT_SECONDS = env_int("ORDERS_SAGA_TIMEOUT_SECONDS", 15 * 60)
# How long the shopper has to pay once stock is held: to complete 3-D Secure, or to pay again with
# another method after a decline. The sweep cancels the order then and releases its stock.
ORDERS_PAYMENT_ACTION_SECONDS = env_int("ORDERS_PAYMENT_ACTION_SECONDS", 15 * 60)
ORDERS_SAGA_SWEEP_SECONDS = env_int("ORDERS_SAGA_SWEEP_SECONDS", 60)
# Merge into CELERY_BEAT_SCHEDULE where the orders service runs (see config/settings/base.py).
ORDERS_CELERY_BEAT_SCHEDULE = {
    "orders-expire-stalled-orders": {
        "task": "orders.expire_stalled_orders",
        "schedule": ORDERS_SAGA_SWEEP_SECONDS,
    },
}

# Names for the OpenAPI enums that would otherwise collide (only where orders is installed).
ORDERS_ENUM_NAME_OVERRIDES = {
    "OrderStatusEnum": "apps.orders.models.OrderStatus",
    "RefundStatusEnum": "apps.orders.models.Refund.Status",
    "PaymentStatusEnum": "apps.orders.models.PaymentStatus",
}

# Guest orders (apps/orders/access.py): how long the order access token returned by guest checkout
# (and linked from the order's emails) serves the order's page, cancellation and payment.
ORDERS_ACCESS_TOKEN_DAYS = env_int("ORDERS_ACCESS_TOKEN_DAYS", 90)
