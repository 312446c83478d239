"""Settings owned by one service each, imported by base.py so every shape sees them."""
