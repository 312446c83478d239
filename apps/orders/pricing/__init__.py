"""Pricing of carts and orders (no I/O): money on minor units and the totals one function computes
for both the cart and the checkout."""
