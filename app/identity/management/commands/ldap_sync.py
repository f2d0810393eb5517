from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from identity.sync import SyncFailed, sync


class Command(BaseCommand):
    help = (
        "Create and refresh every member of the app group from the directory, and deactivate directory "
        "users who left it. Safe to run on a schedule; a second run changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="say what would change, write nothing")
        parser.add_argument(
            "--force", action="store_true", help="deactivate even more than LDAP_SYNC_MAX_DEACTIVATE_PERCENT"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with tqdm(desc="reading the directory", unit=" users", disable=not sys.stderr.isatty(), leave=False) as bar:

            def progress(count: int) -> None:
                bar.update(count)

            try:
                summary = sync(dry_run=options["dry_run"], force=options["force"], progress=progress)
            except SyncFailed as error:
                raise CommandError(str(error)) from error
        self.stdout.write(summary.line())
        for note in summary.notes:
            self.stderr.write(self.style.WARNING(note))
        if summary.refused_deactivations:
            raise CommandError("deactivations refused; see above")
