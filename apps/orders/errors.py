"""The orders service's errors: each has a stable code and renders as a problem body."""

from __future__ import annotations

from apps.core.exceptions import ApplicationError, Conflict, NotFound, Unauthorized, UnprocessableEntity


class IllegalTransition(Conflict):
    default_code = "illegal_transition"
    default_detail = "The order cannot move to that status from its current one."


class OrderNotFound(NotFound):
    default_code = "order_not_found"
    default_detail = "No such order."


class CartNotFound(NotFound):
    default_code = "cart_not_found"
    default_detail = "No such cart; the cart token is unknown or the cart was already merged."


class CartLineNotFound(NotFound):
    default_code = "cart_line_not_found"
    default_detail = "That SKU is not in the cart."


class UnknownSku(ApplicationError):
    default_code = "unknown_sku"
    default_detail = "The catalog has no sellable variant with that SKU."


class InvalidQuantity(ApplicationError):
    default_code = "invalid_quantity"
    default_detail = "The quantity is out of range."


class CartLimitReached(ApplicationError):
    default_code = "cart_limit_reached"
    default_detail = "The cart holds as many different items as it may."


class IdempotencyKeyRequired(ApplicationError):
    default_code = "idempotency_key_required"
    default_detail = "Send an Idempotency-Key header (a unique value per checkout attempt)."


class IdempotencyKeyReused(UnprocessableEntity):
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was already used with a different request body."


class CartEmpty(UnprocessableEntity):
    default_code = "cart_empty"
    default_detail = "The cart is empty."


class CartChanged(Conflict):
    default_code = "cart_changed"
    default_detail = "The cart changed during checkout; review it and try again."


class ItemsUnavailable(UnprocessableEntity):
    default_code = "items_unavailable"
    default_detail = "Some items are no longer sold or not in stock in the quantity asked."


class MixedCurrencies(UnprocessableEntity):
    default_code = "mixed_currencies"
    default_detail = "The cart holds items priced in different currencies; an order has one currency."


class RefundNotAllowed(Conflict):
    default_code = "refund_not_allowed"
    default_detail = "This order has no captured payment to refund."


class RefundTooLarge(UnprocessableEntity):
    default_code = "refund_exceeds_captured"
    default_detail = "The refund is larger than what was captured and not yet refunded."


class InvalidRefund(ApplicationError):
    default_code = "invalid_refund"
    default_detail = "The refund request is invalid."


# --- Pricing: each refusal leaves the cart as it was -------------------------------------------------


class VoucherUnknown(UnprocessableEntity):
    default_code = "voucher_unknown"
    default_detail = "No such voucher code."


class VoucherExpired(UnprocessableEntity):
    default_code = "voucher_expired"
    default_detail = "The voucher code is not valid now (not started yet, or ended)."


class VoucherUsedUp(UnprocessableEntity):
    default_code = "voucher_used_up"
    default_detail = "The voucher code has been used as many times as it may."


class VoucherCustomerLimit(UnprocessableEntity):
    default_code = "voucher_customer_limit"
    default_detail = "You have used this voucher code as many times as it may be used per shopper."


class VoucherMinimumNotMet(UnprocessableEntity):
    default_code = "voucher_minimum_not_met"
    default_detail = "The cart does not reach the voucher's minimum spend."


class VoucherNotApplicable(UnprocessableEntity):
    default_code = "voucher_not_applicable"
    default_detail = "The voucher applies to nothing in the cart."


class ShippingDestinationUnsupported(UnprocessableEntity):
    default_code = "shipping_destination_unsupported"
    default_detail = "The shop does not ship to that country or region."


class ShippingMethodUnavailable(UnprocessableEntity):
    default_code = "shipping_method_unavailable"
    default_detail = "That shipping method is not offered for this address and cart."


class InvalidShipment(UnprocessableEntity):
    default_code = "invalid_shipment"
    default_detail = "The parcel names no line of the order, or more units than are left to ship."


class InvalidReturn(UnprocessableEntity):
    default_code = "invalid_return"
    default_detail = "The return names no line of the parcel, or more units than it shipped and were not returned."


class PaymentNotHeld(Conflict):
    default_code = "payment_not_held"
    default_detail = "The order's payment is neither captured nor held on the card; it cannot ship."


# --- Guest orders ----------------------------------------------------------------------------------


class OrderAccessTokenExpired(Unauthorized):
    default_code = "order_token_expired"
    default_detail = "This order link has expired; sign in, or ask the shop for a new link."
