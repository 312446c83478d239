"""Models of the orders service, a module per story: carts, orders with their lines (snapshots of
what was sold), the parcels they ship in and the goods returned from them, the pricing rules, and
the service's event tables. Shoppers and variants belong to other services: they appear as UUIDs
and snapshots, never as foreign keys."""

from apps.orders.models.carts import Cart, CartLine
from apps.orders.models.events import InboxEvent, OutboxEvent, TokenRevocation
from apps.orders.models.orders import (
    MONEY,
    Order,
    OrderLine,
    OrderNote,
    OrderStatus,
    OrderStatusChange,
    PaymentStatus,
    Refund,
)
from apps.orders.models.parcels import ParcelReturn, ParcelReturnLine, Shipment, ShipmentLine
from apps.orders.models.pricing import (
    DiscountKind,
    Promotion,
    ShippingMethod,
    ShippingRate,
    ShippingZone,
    TaxRate,
    Voucher,
    VoucherUse,
)

__all__ = [
    "MONEY",
    "Cart",
    "CartLine",
    "DiscountKind",
    "InboxEvent",
    "Order",
    "OrderLine",
    "OrderNote",
    "OrderStatus",
    "OrderStatusChange",
    "OutboxEvent",
    "ParcelReturn",
    "ParcelReturnLine",
    "PaymentStatus",
    "Promotion",
    "Refund",
    "Shipment",
    "ShipmentLine",
    "ShippingMethod",
    "ShippingRate",
    "ShippingZone",
    "TaxRate",
    "TokenRevocation",
    "Voucher",
    "VoucherUse",
]
