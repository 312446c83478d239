"""Shared REST API mechanics: authentication, problem-body errors, pagination."""
