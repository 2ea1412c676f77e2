import sys

import orjson
from django.core.management.base import BaseCommand, CommandError

from casefile.core.errors import AppError


class CasefileCommand(BaseCommand):
    """A CLI command: application errors become one clear line on stderr and exit status 1."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except AppError as exc:
            raise CommandError(exc.message) from exc

    def print_json(self, value) -> None:
        sys.stdout.buffer.write(orjson.dumps(value, default=str, option=orjson.OPT_INDENT_2)
                                + b"\n")
        sys.stdout.flush()
