"""Shared platform mechanics (auth, errors, events, health, logging, routing). Not a service:
it imports no service, and every service may import it."""
