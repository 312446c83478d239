"""Shared REST API mechanics: authentication, problem-body errors and their OpenAPI description,
pagination, throttling."""
