"""Settings of the users service."""
