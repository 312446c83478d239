"""The notifications service's REST API."""
