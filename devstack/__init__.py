"""The split shape on one machine: every service in its own processes with its own database,
real workers over the moto server, and nginx as the gateway. `scripts/stack up|down|status`."""
