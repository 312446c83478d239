"""The payments service's REST API."""
