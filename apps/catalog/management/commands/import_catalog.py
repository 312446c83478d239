"""manage.py import_catalog FILE: load products, variants and stock from a CSV or JSON file.

Every row is validated first and every error reported with its row number; if any row is bad
nothing is imported. Otherwise all rows are written in one transaction. Progress goes to stderr.
The columns are described in apps/catalog/importing.py."""

from __future__ import annotations

import getpass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.catalog.importing import ImportFileError, read_rows, validate_rows
from apps.catalog.services import imports
from apps.core.exceptions import ValidationFailed


class Command(BaseCommand):
    help = "Import products, variants (SKUs) and stock from a .csv or .json file: all rows or none."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--actor", default=None, help="Who the stock audit rows name (default: import:<user>).")
        parser.add_argument("--dry-run", action="store_true", help="Validate only; write nothing.")

    def handle(self, *args, file: Path, actor: str | None, dry_run: bool, **options) -> None:
        def progress(stage: str):
            def report(done: int, total: int) -> None:
                self.stderr.write(f"{stage}: {done}/{total} rows")

            return report

        try:
            raw_rows = read_rows(file)
        except ImportFileError as error:
            raise CommandError(str(error)) from error
        self.stderr.write(f"read {len(raw_rows)} rows from {file}")
        rows, errors = validate_rows(raw_rows, progress=progress("validated"))
        if errors:
            for error in errors:
                self.stderr.write(str(error))
            bad_rows = len({error.row for error in errors})
            raise CommandError(f"{len(errors)} error(s) in {bad_rows} row(s) of {file}; nothing was imported.")
        if not rows:
            raise CommandError(f"{file} has no rows; nothing was imported.")
        if dry_run:
            self.stdout.write(f"{len(rows)} rows are valid; nothing was written (--dry-run).")
            return
        try:
            summary = imports.catalog_import(
                rows=rows,
                actor=actor or f"import:{_user()}",
                reason=f"import {file.name}",
                progress=progress("imported"),
            )
        except ValidationFailed as error:
            for message in error.extra["errors"].get("rows", []):
                self.stderr.write(message)
            raise CommandError("The catalog changed while importing; nothing was imported.") from error
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {len(rows)} rows: {summary.products_created} products created, "
                f"{summary.products_updated} updated; {summary.variants_created} variants created, "
                f"{summary.variants_updated} updated; {summary.stock_adjusted} stock levels set; "
                f"{summary.events_published} product.updated events."
            )
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
