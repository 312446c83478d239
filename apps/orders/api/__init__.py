"""The orders service's REST API."""
