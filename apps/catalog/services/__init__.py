"""Writes of the catalog service, one module per story: products, stock, reservations, restock, imports."""
