"""Shopper identity across services: RS256 JWTs issued by `users`, verified locally everywhere."""
