"""The service registry: the one list of services that settings, URLs, the database router,
provisioning, the local stack and the deployment templates all read. No Django imports here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str
    # Port of this service's web process in the local split stack (behind the gateway).
    local_port: int

    @property
    def app(self) -> str:
        return f"apps.{self.name}"

    @property
    def url_prefix(self) -> str:
        return f"api/v1/{self.name}/"

    @property
    def admin_prefix(self) -> str:
        """Where this service's admin is mounted in the split shape (all admins share one host)."""
        return f"admin/{self.name}/"

    @property
    def queue(self) -> str:
        """The service's own SQS queue: its Celery commands and the events it subscribes to."""
        return f"shopstack-{self.name}"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.queue}-dlq"


SERVICES: dict[str, Service] = {
    service.name: service
    for service in (
        Service("users", 8001),
        Service("catalog", 8002),
        Service("orders", 8003),
        Service("payments", 8004),
        Service("notifications", 8005),
    )
}


class UnknownServiceError(ValueError):
    pass


def active_service_names(selected: str | None) -> list[str]:
    """All services in the all-in-one shape, or just the selected one in the split shape."""
    if not selected:
        return list(SERVICES)
    if selected not in SERVICES:
        raise UnknownServiceError(
            f"SERVICE={selected!r} is not a ShopStack service; expected one of: "
            + ", ".join(SERVICES)
            + " (or leave SERVICE unset to run all of them in one process)."
        )
    return [selected]
