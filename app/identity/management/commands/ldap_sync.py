from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from identity.locks import exclusive
from identity.sync import SyncFailed, sync

# One name for the lock every replica and CronJob pod takes before syncing.
LOCK_NAME = "identity.ldap_sync"


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
        # Two syncs at once (a CronJob overlapping a manual run, two replicas' cron) would race to
        # create the same users; the second one leaves without touching anything.
        with exclusive(LOCK_NAME) as got:
            if not got:
                self.stdout.write("another ldap_sync is running; this one stops without changing anything")
                return
            self._sync(options)

    def _sync(self, options: dict[str, Any]) -> None:
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
