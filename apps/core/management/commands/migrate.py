"""`manage.py migrate` that sets up the whole shop: all-in-one, without --database it migrates
every alias (default and one per service), not just `default`; --database X and the split shape
(one database) behave as Django's own command."""

from typing import Any

from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrateCommand
from django.db import DEFAULT_DB_ALIAS


class Command(DjangoMigrateCommand):
    help = "Apply migrations; all-in-one without --database, to every database alias in turn."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(database=None)

    def get_check_kwargs(self, options: dict[str, Any]) -> dict[str, Any]:
        return {**super().get_check_kwargs(options), "databases": _aliases(options)}

    def handle(self, *args: Any, **options: Any) -> None:
        aliases = _aliases(options)
        for alias in aliases:
            if options["verbosity"] >= 1 and len(aliases) > 1:
                self.stdout.write(self.style.MIGRATE_HEADING(f"Database '{alias}':"))
            super().handle(*args, **{**options, "database": alias})


def _aliases(options: dict[str, Any]) -> list[str]:
    if options["database"] is not None:
        return [options["database"]]
    return list(settings.DATABASES) if settings.ALL_IN_ONE else [DEFAULT_DB_ALIAS]
