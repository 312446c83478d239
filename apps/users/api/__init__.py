"""The users service's REST API."""
