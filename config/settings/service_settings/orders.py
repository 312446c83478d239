"""Settings of the orders service."""

from config.settings.env import env_int, env_str, local_url

# Catalog's API, called synchronously for current prices and availability (apps/orders/integrations.py).
# All-in-one, catalog is served by the same runserver; split, by catalog's own service URL.
CATALOG_API_URL = env_str("CATALOG_API_URL", local_url("127.0.0.1"))
CATALOG_API_TIMEOUT_SECONDS = float(env_str("CATALOG_API_TIMEOUT_SECONDS", "2.0"))
# Attempts in all (1 = no retry); the backoff doubles from CATALOG_API_BACKOFF_SECONDS.
CATALOG_API_ATTEMPTS = env_int("CATALOG_API_ATTEMPTS", 3)
CATALOG_API_BACKOFF_SECONDS = float(env_str("CATALOG_API_BACKOFF_SECONDS", "0.2"))

# Cart limits.
ORDERS_MAX_LINE_QUANTITY = env_int("ORDERS_MAX_LINE_QUANTITY", 20)
ORDERS_MAX_CART_LINES = env_int("ORDERS_MAX_CART_LINES", 100)

# Totals, as decimal strings (never floats). The shop sells in one currency at a time, so the
# shipping amounts are in the order's currency.
ORDERS_SHIPPING_FLAT_RATE = env_str("ORDERS_SHIPPING_FLAT_RATE", "4.90")
ORDERS_FREE_SHIPPING_THRESHOLD = env_str("ORDERS_FREE_SHIPPING_THRESHOLD", "50.00")
ORDERS_TAX_RATE = env_str("ORDERS_TAX_RATE", "0.20")

# A saga step (stock reservation, payment) that has not answered within this many seconds is
# given up: the order is cancelled and compensated (orders.tasks.expire_stalled_orders).
ORDERS_SAGA_TIMEOUT_SECONDS = env_int("ORDERS_SAGA_TIMEOUT_SECONDS", 15 * 60)
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
