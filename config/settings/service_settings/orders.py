"""Settings of the orders service."""
