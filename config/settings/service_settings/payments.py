"""Settings of the payments service."""
