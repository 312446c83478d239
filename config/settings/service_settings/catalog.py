"""Settings of the catalog service."""
