"""The catalog service's REST API."""
