"""Settings of the notifications service."""
