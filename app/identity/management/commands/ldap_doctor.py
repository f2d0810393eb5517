from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from identity.doctor import FAIL, OK, SKIP, WARN, Doctor


class Command(BaseCommand):
    help = "Check the directory settings step by step and say how to fix what fails (in JumpCloud's terms)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--user", metavar="UID", help="also show what this user would get at sign-in (no password needed)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        styles = {OK: self.style.SUCCESS, WARN: self.style.WARNING, FAIL: self.style.ERROR, SKIP: self.style.NOTICE}
        failures = 0
        for finding in Doctor(options["user"]).run():
            self.stdout.write(styles[finding.status](f"[{finding.status:>4}] {finding.check}: {finding.text}"))
            if finding.fix:
                self.stdout.write(f"       fix: {finding.fix}")
            failures += finding.status == FAIL
        if failures:
            raise CommandError(f"{failures} check{'s' * (failures != 1)} failed")
        self.stdout.write(self.style.SUCCESS("All checks passed."))
